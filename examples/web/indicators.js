// SPDX-License-Identifier: GPL-3.0-or-later
// The indicators of the chart come from cmee-server (GET api/market/indicators, docs/server.md),
// which computes them with the library over complete candles; nothing is computed here. This
// module only names what the page draws and builds the request URLs (relative to the page).

// The overlays and the lower pane: indicator name and parameters as the library names them.
export const INDICATORS = {
  sma: { name: 'sma', params: { period: 20 } },
  ema: { name: 'ema', params: { period: 50 } },
  bb: { name: 'bbands', params: { period: 20, up: 2, down: 2 } },
  rsi: { name: 'rsi', params: { period: 14 } },
  macd: { name: 'macd', params: { fast: 12, slow: 26, signal: 9 } },
};

export function indicatorPath(symbol, tf, which, limit, sessionId) {
  const ind = INDICATORS[which];
  const q = new URLSearchParams({ symbol, timeframe: tf, name: ind.name, limit: String(limit),
                                  ...ind.params });
  return sessionId ? `api/sessions/${sessionId}/indicators?${q}` : `api/market/indicators?${q}`;
}
