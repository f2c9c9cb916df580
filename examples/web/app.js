// SPDX-License-Identifier: GPL-3.0-or-later
// The cmee-server web page (docs/web.md): a live candlestick chart fed by /ws, indicators
// computed by the server with the library (api/market/indicators), the signals of cmee-signals when it is reachable, and a
// paper-trading session. Every URL is relative to the page, so the same files work when the
// server is reached directly and through the gateway (examples/gateway).
import { indicatorPath } from './indicators.js';

const LWC = window.LightweightCharts;
const TF_MS = { '1m': 60e3, '5m': 300e3, '15m': 900e3, '1h': 3600e3, '4h': 14400e3, '1d': 86400e3 };
const HISTORY = 300;          // candles loaded when the chart (re)loads
const SIGNALS_EVERY_MS = 10e3;
const ACCOUNT_EVERY_MS = 2e3;

const $ = (id) => document.getElementById(id);

// ---- state -----------------------------------------------------------------------------------

const state = {
  symbol: null, tf: null, tfMs: 60e3,
  candles: [],          // {t (ms), time (s), open, high, low, close}, oldest first
  session: null,        // {id, token, clock}
  ws: null, wsGen: 0,
  lastPrice: null, ticks: 0,
  symbols: new Map(),   // symbol -> registry entry (precision, tick size)
};
window.cmee = { state }; // for the end-to-end test and the curious

// ---- HTTP --------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Calls the API; resolves with the parsed answer, or throws an ApiError carrying the server's
// own code and message.
async function api(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `${method} ${path}: the server is not reachable`);
  }
  let json = null;
  try { json = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = json && json.error;
    throw new ApiError(res.status, err ? err.code : 'http_' + res.status,
                       err ? err.message : `${method} ${path}: HTTP ${res.status}`);
  }
  return json;
}

function showError(e) {
  const text = e instanceof ApiError ? `${e.message} (${e.code})` : String(e && e.message || e);
  $('error-text').textContent = text;
  $('error').hidden = false;
}
function clearError() { $('error').hidden = true; }
$('error-close').addEventListener('click', clearError);
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

// Runs an action from a control, showing whatever it throws.
function action(fn) {
  return async (ev) => {
    try {
      clearError();
      await fn(ev);
    } catch (e) {
      showError(e);
    }
  };
}

// ---- number helpers -----------------------------------------------------------------------------

function precisionOf(symbol) {
  const s = state.symbols.get(symbol);
  return s ? s.precision : 2;
}
function fmt(v, digits = 2) {
  return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—';
}
// A number input: undefined when empty (so the server names the missing field), else a number
// (or the raw text, which the server refuses with its own message).
function numberField(id) {
  const v = $(id).value.trim();
  if (v === '') return undefined;
  const n = Number(v);
  return isFinite(n) ? n : v;
}

// ---- the charts -------------------------------------------------------------------------------

const chartOptions = {
  autoSize: true,
  layout: { background: { type: 'solid', color: '#131722' }, textColor: '#d1d4dc' },
  grid: { vertLines: { color: '#1f2330' }, horzLines: { color: '#1f2330' } },
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#2a2e39' },
  rightPriceScale: { borderColor: '#2a2e39' },
  crosshair: { mode: 0 },
};
const chart = LWC.createChart($('chart'), chartOptions);
const candleSeries = chart.addCandlestickSeries({
  upColor: '#26a69a', downColor: '#ef5350', wickUpColor: '#26a69a', wickDownColor: '#ef5350',
  borderVisible: false,
});
const line = (color, extra = {}) => chart.addLineSeries({
  color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false,
  crosshairMarkerVisible: false, ...extra,
});
const overlays = {
  sma: line('#f5c542'),
  ema: line('#42a5f5'),
  bbUpper: line('#ab47bc', { lineStyle: 2 }),
  bbMiddle: line('#ab47bc'),
  bbLower: line('#ab47bc', { lineStyle: 2 }),
};

const paneChart = LWC.createChart($('pane-chart'), {
  ...chartOptions, timeScale: { ...chartOptions.timeScale, visible: false },
});
const paneLine = (color) => paneChart.addLineSeries({
  color, lineWidth: 1, priceLineVisible: false, crosshairMarkerVisible: false,
});
const pane = {
  rsi: paneLine('#f5c542'),
  macd: paneLine('#42a5f5'),
  signal: paneLine('#ff9800'),
  hist: paneChart.addHistogramSeries({ priceLineVisible: false, lastValueVisible: false }),
};
// The lower pane scrolls and zooms with the main chart.
chart.timeScale().subscribeVisibleLogicalRangeChange((r) => {
  if (r) paneChart.timeScale().setVisibleLogicalRange(r);
});
window.cmee.chart = chart;
window.cmee.paneChart = paneChart;

const bar = (c) => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close });

function setLastPrice(p) {
  state.lastPrice = p;
  const el = $('last-price');
  el.textContent = fmt(p, precisionOf(state.symbol));
  el.dataset.price = String(p);
  const first = state.candles.length ? state.candles[0].open : null;
  $('change').textContent = first ? `${fmt((p / first - 1) * 100)} % over the chart` : '';
}

// Indicators come from the server (the library, over complete candles of the global market):
// fetched when the chart loads, when a candle closes and when a checkbox changes, at most every
// 250 ms. A generation number drops the answers of an older request.
let indicatorTimer = null;
let indicatorGen = 0;
function scheduleIndicators() {
  if (indicatorTimer) return;
  indicatorTimer = setTimeout(() => { indicatorTimer = null; drawIndicators().catch(showError); },
                              250);
}

// [{time (s), value}] of one output, leaving out the lookback (null).
function series(ans, output) {
  const out = [];
  const values = ans.outputs[output];
  for (let i = 0; i < ans.times.length; i++)
    if (values[i] !== null) out.push({ time: ans.times[i] / 1000, value: values[i] });
  return out;
}

async function drawIndicators() {
  const gen = ++indicatorGen;
  const which = $('pane').value;
  $('pane-chart').hidden = which === 'none';
  // From the library, over the market the chart shows: the global one or the session's own.
  const want = (on, key) => (on && state.symbol
    ? api('GET', indicatorPath(state.symbol, state.tf, key, HISTORY, state.session?.id),
          undefined, state.session?.token) : null);
  const [s, e, bb, p] = await Promise.all([
    want($('ind-sma').checked, 'sma'), want($('ind-ema').checked, 'ema'),
    want($('ind-bb').checked, 'bb'), want(which === 'rsi' || which === 'macd', which)]);
  if (gen !== indicatorGen) return;
  overlays.sma.setData(s ? series(s, 'sma') : []);
  overlays.ema.setData(e ? series(e, 'ema') : []);
  overlays.bbUpper.setData(bb ? series(bb, 'upper') : []);
  overlays.bbMiddle.setData(bb ? series(bb, 'middle') : []);
  overlays.bbLower.setData(bb ? series(bb, 'lower') : []);
  pane.rsi.setData(p && which === 'rsi' ? series(p, 'rsi') : []);
  if (p && which === 'macd') {
    pane.macd.setData(series(p, 'macd'));
    pane.signal.setData(series(p, 'signal'));
    pane.hist.setData(series(p, 'hist').map((x) => ({
      ...x, color: x.value >= 0 ? 'rgba(38,166,154,0.6)' : 'rgba(239,83,80,0.6)' })));
  } else {
    pane.macd.setData([]); pane.signal.setData([]); pane.hist.setData([]);
  }
}
for (const id of ['ind-sma', 'ind-ema', 'ind-bb', 'pane'])
  $(id).addEventListener('change', action(drawIndicators));

// A candle [t, o, h, l, c, v] from the server: replaces the one with that open time, or
// appends it when it is newer.
function putCandle(arr) {
  const c = { t: arr[0], time: arr[0] / 1000, open: arr[1], high: arr[2], low: arr[3],
              close: arr[4] };
  const n = state.candles.length;
  const last = state.candles[n - 1];
  if (!last || c.t > last.t) {
    state.candles.push(c);
  } else {
    const i = state.candles.findIndex((x) => x.t === c.t);
    if (i < 0) return;
    if (i === n - 1) { // the forming candle may already hold later ticks
      c.high = Math.max(c.high, last.high);
      c.low = Math.min(c.low, last.low);
      c.close = last.close;
    }
    state.candles[i] = c;
    if (i < n - 1) { candleSeries.setData(state.candles.map(bar)); scheduleIndicators(); return; }
  }
  candleSeries.update(bar(c));
  scheduleIndicators();
}

// A tick moves the forming candle, or opens the next one.
function onTick(t, price) {
  const open = Math.floor(t / state.tfMs) * state.tfMs;
  let last = state.candles[state.candles.length - 1];
  if (!last || open > last.t) {
    last = { t: open, time: open / 1000, open: price, high: price, low: price, close: price };
    state.candles.push(last);
    scheduleIndicators(); // the previous candle closed
  } else if (open === last.t) {
    last.high = Math.max(last.high, price);
    last.low = Math.min(last.low, price);
    last.close = price;
  } else {
    return; // a tick of a candle already closed (the replay at subscription)
  }
  state.ticks++;
  candleSeries.update(bar(last));
  setLastPrice(price);
}

// ---- loading a symbol and timeframe -------------------------------------------------------------

function candlesPath(symbol, tf) {
  const q = `symbol=${encodeURIComponent(symbol)}&timeframe=${encodeURIComponent(tf)}&limit=${HISTORY}`;
  return state.session ? `api/sessions/${state.session.id}/candles?${q}` : `api/market/candles?${q}`;
}

// Loads the history first and only then switches, so a bad symbol leaves the chart as it was
// (and shows the server's message).
async function loadChart(symbol, tf) {
  const ans = await api('GET', candlesPath(symbol, tf), undefined, state.session?.token);
  state.symbol = symbol;
  state.tf = tf;
  state.tfMs = TF_MS[tf] || 60e3;
  state.candles = ans.candles.map((a) => ({ t: a[0], time: a[0] / 1000, open: a[1], high: a[2],
                                             low: a[3], close: a[4] }));
  const sym = state.symbols.get(symbol);
  if (sym)
    candleSeries.applyOptions({ priceFormat: { type: 'price', precision: sym.precision,
                                               minMove: sym.tick_size } });
  candleSeries.setData(state.candles.map(bar));
  drawIndicators().catch(showError);
  const last = state.candles[state.candles.length - 1];
  if (last) setLastPrice(last.close);
  chart.timeScale().scrollToRealTime();
  $('symbol').value = symbol;
  if (!state.session && !$('new-symbols').dataset.edited) $('new-symbols').value = symbol;
  $('timeframe').value = tf;
  const url = new URL(location.href);
  url.searchParams.set('symbol', symbol);
  url.searchParams.set('timeframe', tf);
  history.replaceState(null, '', url);
  connect();
  refreshSignals();
}

$('load').addEventListener('click', action(() =>
  loadChart($('symbol').value.trim(), $('timeframe').value)));
$('timeframe').addEventListener('change', action(() =>
  loadChart($('symbol').value.trim(), $('timeframe').value)));
$('symbol').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter') action(() => loadChart($('symbol').value.trim(), $('timeframe').value))();
});

// ---- the WebSocket -------------------------------------------------------------------------

function wsUrl() {
  const u = new URL('ws', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

function setConn(text, live) {
  $('conn').textContent = text;
  $('conn').classList.toggle('live', live);
}

// (Re)opens the feed for the current symbol, timeframe and session. A generation number makes
// the handlers of a replaced socket inert.
function connect() {
  const gen = ++state.wsGen;
  if (state.ws) state.ws.close();
  const ws = new WebSocket(wsUrl());
  state.ws = ws;
  setConn('connecting…', false);
  ws.onopen = () => {
    if (gen !== state.wsGen) return;
    setConn('live', true);
    if (state.session) {
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'session', id: state.session.id,
                               token: state.session.token }));
    } else {
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'ticks', symbol: state.symbol }));
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'candles', symbol: state.symbol,
                               timeframe: state.tf }));
    }
  };
  ws.onmessage = (ev) => {
    if (gen !== state.wsGen) return;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    onMessage(m);
  };
  ws.onclose = () => {
    if (gen !== state.wsGen) return;
    setConn('reconnecting…', false);
    setTimeout(() => { if (gen === state.wsGen) connect(); }, 1000);
  };
}

function onMessage(m) {
  if (m.type === 'error') { showError(new ApiError(0, m.error.code, m.error.message)); return; }
  if (m.type === 'subscribed' || m.type === 'unsubscribed' || m.type === 'pong') return;
  if (m.channel === 'ticks' && m.symbol === state.symbol) { onTick(m.time, m.price); return; }
  if (m.channel === 'candles' && m.symbol === state.symbol && m.timeframe === state.tf) {
    putCandle(m.candle);
    return;
  }
  if (m.channel !== 'session' || !state.session || m.id !== state.session.id) return;
  if (m.type === 'tick') {
    if (m.symbol === state.symbol) onTick(m.time, m.price);
    showClock({ ...state.session.clock, now: m.time });
  } else if (m.type === 'candle') {
    if (m.symbol === state.symbol && m.timeframe === state.tf) putCandle(m.candle);
  } else {
    refreshAccount(); // order_filled, option_settled, scenario_applied, clock_changed, ...
    if (m.type === 'scenario_applied' || m.type === 'scenario_cancelled') refreshSession();
  }
}

// ---- signals (cmee-signals, through the gateway) -------------------------------------------

async function refreshSignals() {
  const q = `symbol=${encodeURIComponent(state.symbol)}&timeframe=${state.tf}` +
            (state.session ? `&session=${state.session.id}` : '');
  const sig = $('signal'), reasons = $('signal-reasons'), bin = $('binary');
  try {
    const s = await api('GET', `trading/signals?${q}`);
    if (!s || !s.signal && !s.consensus) throw new ApiError(0, 'unavailable', '');
    const c = s.consensus || s.signal.consensus;
    sig.className = 'signal ' + c;
    sig.textContent = `${c} (score ${fmt(s.score, 3)})`;
    reasons.replaceChildren(...(s.reasons || []).map((r) => {
      const li = document.createElement('li');
      li.textContent = `${r.rule} ${r.vote > 0 ? '+' : ''}${r.vote}: ${r.text}`;
      return li;
    }));
    const b = await api('GET', `trading/binary-signals?${q}`);
    bin.className = b.direction;
    bin.textContent = `binary: ${b.direction}` + (b.direction !== 'NONE'
      ? `, confidence ${fmt(b.confidence)}, expiry ${Math.round(b.expiry_ms / 1000)} s` : '');
  } catch (e) {
    // cmee-server alone answers /trading/* with 404: the signals service is not behind us.
    const down = !(e instanceof ApiError) || e.status === 0 || e.status >= 500 ||
                 (e.status === 404 && e.code === 'not_found');
    sig.className = 'signal muted';
    sig.textContent = down ? 'signals service unavailable' : `signals: ${e.message}`;
    reasons.replaceChildren();
    bin.textContent = '';
  }
}
setInterval(() => { if (state.symbol) refreshSignals(); }, SIGNALS_EVERY_MS);

// ---- the session ---------------------------------------------------------------------------------

const sessionCall = (method, path, body) =>
  api(method, `api/sessions/${state.session.id}${path}`, body, state.session.token);

$('new-symbols').addEventListener('input', () => { $('new-symbols').dataset.edited = '1'; });
$('create-session').addEventListener('click', action(async () => {
  // A session streams the ticks of every symbol it has: at high speeds a few symbols keep the
  // feed within the server's per-connection queue (docs/web.md).
  const symbols = $('new-symbols').value.split(',').map((x) => x.trim()).filter((x) => x);
  const s = await api('POST', 'api/sessions', {
    balance: numberField('new-balance'), symbols: symbols.length ? symbols : undefined });
  state.session = { id: s.id, token: s.token, clock: s.clock };
  $('no-session').hidden = true;
  $('session').hidden = false;
  $('session-id').textContent = s.id;
  $('source').textContent = `session ${s.id.slice(0, 8)}…`;
  showClock(s.clock);
  await loadChart(symbols.includes(state.symbol) || !symbols.length ? state.symbol : symbols[0],
                  state.tf);
  await refreshAccount();
}));

function showClock(clock) {
  state.session.clock = clock;
  for (const b of document.querySelectorAll('button.speed')) {
    const v = Number(b.dataset.speed);
    b.classList.toggle('active', clock.paused ? v === 0 : v === clock.speed);
  }
  $('clock').textContent = new Date(clock.now).toISOString().replace('T', ' ').slice(0, 19) +
                           (clock.paused ? ' (paused)' : ` (${clock.speed}x)`);
}

for (const b of document.querySelectorAll('button.speed')) {
  b.addEventListener('click', action(async () => {
    const speed = Number(b.dataset.speed);
    let ans;
    if (speed === 0) {
      ans = await sessionCall('POST', '/clock', { action: 'pause' });
    } else {
      ans = await sessionCall('POST', '/clock', { action: 'speed', speed });
      if (ans.clock.paused) ans = await sessionCall('POST', '/clock', { action: 'resume' });
    }
    showClock(ans.clock);
  }));
}

$('apply-preset').addEventListener('click', action(async () => {
  const token = $('admin-token').value;
  await api('POST', `api/admin/sessions/${state.session.id}/scenario`,
            { preset: $('preset').value }, token);
  await refreshSession();
}));

async function refreshSession() {
  const s = await sessionCall('GET', '');
  $('scenarios').textContent = s.scenarios.length
    ? 'scenarios: ' + s.scenarios.map((a) => `${a.name} (#${a.application})`).join(', ') : '';
  showClock(s.clock);
}

const order = (side) => action(async () => {
  await sessionCall('POST', '/orders', { symbol: state.symbol, side, type: 'market',
                                         qty: numberField('qty') });
  await refreshAccount();
});
$('buy').addEventListener('click', order('buy'));
$('sell').addEventListener('click', order('sell'));

const option = (direction) => action(async () => {
  await sessionCall('POST', '/options', { symbol: state.symbol, direction,
                                          stake: numberField('stake'),
                                          expiry: numberField('expiry') });
  await refreshAccount();
});
$('call').addEventListener('click', option('call'));
$('put').addEventListener('click', option('put'));

function rows(tbody, items, cells) {
  tbody.replaceChildren(...items.map((it) => {
    const tr = document.createElement('tr');
    for (const [text, cls] of cells(it)) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
}

let accountBusy = false;
async function refreshAccount() {
  if (!state.session || accountBusy) return;
  accountBusy = true;
  try {
    const a = await sessionCall('GET', '/account');
    $('balance').textContent = `${fmt(a.balance)} ${a.currency}`;
    $('balance').dataset.value = String(a.balance);
    $('equity').textContent = fmt(a.equity);
    $('free-margin').textContent = fmt(a.free_margin);
    rows($('positions').tBodies[0], a.positions, (p) => [
      [p.symbol], [String(p.qty)], [fmt(p.avg_price, precisionOf(p.symbol))],
      [fmt(p.mark, precisionOf(p.symbol))], [fmt(p.unrealised), p.unrealised >= 0 ? 'won' : 'lost'],
    ]);
    rows($('options').tBodies[0], a.options.slice().reverse(), (o) => [
      [String(o.id)], [o.symbol], [o.direction.toUpperCase(), o.direction.toUpperCase()],
      [fmt(o.stake)], [fmt(o.strike, precisionOf(o.symbol))], [o.state, o.state], [fmt(o.paid)],
    ]);
    rows($('ledger').tBodies[0], a.ledger.slice().reverse().slice(0, 15), (l) => [
      [String(l.seq)], [l.kind], [fmt(l.amount, 4)], [fmt(l.balance)],
    ]);
  } finally {
    accountBusy = false;
  }
}
setInterval(() => { refreshAccount().catch(showError); }, ACCOUNT_EVERY_MS);

// ---- start -------------------------------------------------------------------------------------

async function start() {
  try {
    const reg = await api('GET', 'api/market/symbols');
    const list = $('symbols');
    for (const s of reg.symbols) {
      state.symbols.set(s.symbol, s);
      const o = document.createElement('option');
      o.value = s.symbol;
      list.appendChild(o);
    }
  } catch (e) {
    showError(e);
  }
  const params = new URLSearchParams(location.search);
  const symbol = params.get('symbol') || 'BTCUSD';
  const tf = TF_MS[params.get('timeframe')] ? params.get('timeframe') : '1m';
  try {
    await loadChart(symbol, tf);
  } catch (e) {
    showError(e);
    if (symbol !== 'BTCUSD') loadChart('BTCUSD', tf).catch(showError); // keeps the message
  }
  document.body.dataset.ready = '1';
}
start();
