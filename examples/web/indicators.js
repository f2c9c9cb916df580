// SPDX-License-Identifier: GPL-3.0-or-later
// Indicators for the chart overlays, computed from the closes shown (docs/web.md). Each returns
// arrays as long as its input, with null where the indicator is not yet defined. The
// definitions are the usual ones (those of docs/signals.md): EMA seeded with the SMA of its
// first period, RSI with Wilder's smoothing, Bollinger bands on the population deviation.

export function sma(x, n) {
  const out = new Array(x.length).fill(null);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i];
    if (i >= n) sum -= x[i - n];
    if (i >= n - 1) out[i] = sum / n;
  }
  return out;
}

// EMA of the defined values of x (leading nulls are skipped, so it can run on another
// indicator's output).
export function ema(x, n) {
  const out = new Array(x.length).fill(null);
  const k = 2 / (n + 1);
  let start = x.findIndex((v) => v !== null);
  if (start < 0 || x.length - start < n) return out;
  let e = 0;
  for (let i = start; i < start + n; i++) e += x[i];
  e /= n;
  out[start + n - 1] = e;
  for (let i = start + n; i < x.length; i++) {
    e = x[i] * k + e * (1 - k);
    out[i] = e;
  }
  return out;
}

export function bollinger(x, n, k) {
  const middle = sma(x, n);
  const upper = new Array(x.length).fill(null);
  const lower = new Array(x.length).fill(null);
  for (let i = n - 1; i < x.length; i++) {
    let v = 0;
    for (let j = i - n + 1; j <= i; j++) v += (x[j] - middle[i]) ** 2;
    const sd = Math.sqrt(v / n);
    upper[i] = middle[i] + k * sd;
    lower[i] = middle[i] - k * sd;
  }
  return { upper, middle, lower };
}

export function rsi(x, n) {
  const out = new Array(x.length).fill(null);
  if (x.length <= n) return out;
  let gain = 0, loss = 0;
  for (let i = 1; i <= n; i++) {
    const d = x[i] - x[i - 1];
    if (d > 0) gain += d; else loss -= d;
  }
  gain /= n;
  loss /= n;
  const value = () => (loss === 0 ? (gain === 0 ? 50 : 100) : 100 - 100 / (1 + gain / loss));
  out[n] = value();
  for (let i = n + 1; i < x.length; i++) {
    const d = x[i] - x[i - 1];
    gain = (gain * (n - 1) + Math.max(d, 0)) / n;
    loss = (loss * (n - 1) + Math.max(-d, 0)) / n;
    out[i] = value();
  }
  return out;
}

export function macd(x, fast, slow, signalPeriod) {
  const f = ema(x, fast), s = ema(x, slow);
  const line = x.map((_, i) => (f[i] !== null && s[i] !== null ? f[i] - s[i] : null));
  const signal = ema(line, signalPeriod);
  const hist = line.map((v, i) => (v !== null && signal[i] !== null ? v - signal[i] : null));
  return { macd: line, signal, hist };
}
