#!/usr/bin/env node
// Generates the TA-Lib reference vectors in this directory.
// Our own code: it only calls the npm package `talib` (a Node binding of TA-Lib's C library)
// and writes its outputs as CSV. See README.md for how to run it.
//
//   NODE_PATH=/path/to/node_modules node make_reference.js [dir]
'use strict';
const fs = require('fs');
const path = require('path');
const talib = require('talib');

const dir = process.argv[2] || __dirname;
const INPUTS = ['btc_1h', 'spx_1d', 'flat_1m'];

// name, TA-Lib function(s), input kind, parameter names, parameter sets, output columns.
// Each column is [column name, TA-Lib function, TA-Lib output name].
const C = 'close', HLC = 'hlc', HL = 'hl', CV = 'cv';
const INDICATORS = [
  { name: 'sma', inp: C, opt: ['optInTimePeriod'], sets: [[30], [2], [14], [200]], cols: [['sma', 'SMA', 'outReal']] },
  { name: 'ema', inp: C, opt: ['optInTimePeriod'], sets: [[30], [2], [9], [100]], cols: [['ema', 'EMA', 'outReal']] },
  { name: 'wma', inp: C, opt: ['optInTimePeriod'], sets: [[30], [2], [14]], cols: [['wma', 'WMA', 'outReal']] },
  { name: 'dema', inp: C, opt: ['optInTimePeriod'], sets: [[30], [5]], cols: [['dema', 'DEMA', 'outReal']] },
  { name: 'tema', inp: C, opt: ['optInTimePeriod'], sets: [[30], [5]], cols: [['tema', 'TEMA', 'outReal']] },
  { name: 'rsi', inp: C, opt: ['optInTimePeriod'], sets: [[14], [2], [30]], cols: [['rsi', 'RSI', 'outReal']] },
  { name: 'macd', inp: C, opt: ['optInFastPeriod', 'optInSlowPeriod', 'optInSignalPeriod'],
    sets: [[12, 26, 9], [5, 35, 5], [3, 10, 16]],
    cols: [['macd', 'MACD', 'outMACD'], ['signal', 'MACD', 'outMACDSignal'], ['hist', 'MACD', 'outMACDHist']] },
  { name: 'bbands', inp: C, opt: ['optInTimePeriod', 'optInNbDevUp', 'optInNbDevDn'], fixed: { optInMAType: 0 },
    sets: [[5, 2, 2], [20, 2, 2], [10, 1.5, 2.5]],
    cols: [['upper', 'BBANDS', 'outRealUpperBand'], ['middle', 'BBANDS', 'outRealMiddleBand'], ['lower', 'BBANDS', 'outRealLowerBand']] },
  { name: 'atr', inp: HLC, opt: ['optInTimePeriod'], sets: [[14], [1], [30]], cols: [['atr', 'ATR', 'outReal']] },
  { name: 'natr', inp: HLC, opt: ['optInTimePeriod'], sets: [[14], [5]], cols: [['natr', 'NATR', 'outReal']] },
  { name: 'stoch', inp: HLC, opt: ['optInFastK_Period', 'optInSlowK_Period', 'optInSlowD_Period'],
    fixed: { optInSlowK_MAType: 0, optInSlowD_MAType: 0 }, sets: [[5, 3, 3], [14, 3, 3], [9, 1, 1]],
    cols: [['slowk', 'STOCH', 'outSlowK'], ['slowd', 'STOCH', 'outSlowD']] },
  { name: 'stochrsi', inp: C, opt: ['optInTimePeriod', 'optInFastK_Period', 'optInFastD_Period'],
    fixed: { optInFastD_MAType: 0 }, sets: [[14, 5, 3], [14, 14, 3], [9, 3, 1]],
    cols: [['k', 'STOCHRSI', 'outFastK'], ['d', 'STOCHRSI', 'outFastD']] },
  { name: 'adx', inp: HLC, opt: ['optInTimePeriod'], sets: [[14], [5], [30]],
    cols: [['adx', 'ADX', 'outReal'], ['plus_di', 'PLUS_DI', 'outReal'], ['minus_di', 'MINUS_DI', 'outReal']] },
  { name: 'cci', inp: HLC, opt: ['optInTimePeriod'], sets: [[14], [5], [20]], cols: [['cci', 'CCI', 'outReal']] },
  { name: 'mom', inp: C, opt: ['optInTimePeriod'], sets: [[10], [1], [20]], cols: [['mom', 'MOM', 'outReal']] },
  { name: 'roc', inp: C, opt: ['optInTimePeriod'], sets: [[10], [1], [20]], cols: [['roc', 'ROC', 'outReal']] },
  { name: 'willr', inp: HLC, opt: ['optInTimePeriod'], sets: [[14], [5], [30]], cols: [['willr', 'WILLR', 'outReal']] },
  { name: 'obv', inp: CV, opt: [], sets: [[]], cols: [['obv', 'OBV', 'outReal']] },
  { name: 'sar', inp: HL, opt: ['optInAcceleration', 'optInMaximum'], sets: [[0.02, 0.2], [0.01, 0.1], [0.05, 0.5]],
    cols: [['sar', 'SAR', 'outReal']] },
  { name: 'stddev', inp: C, opt: ['optInTimePeriod'], fixed: { optInNbDev: 1 }, sets: [[5], [20], [2]],
    cols: [['stddev', 'STDDEV', 'outReal']] },
];

function readCandles(file) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  if (lines[0] !== 'time,open,high,low,close,volume') throw new Error(file + ': unexpected header');
  const d = { open: [], high: [], low: [], close: [], volume: [] };
  for (const l of lines.slice(1)) {
    const f = l.split(',').map(Number);
    d.open.push(f[1]); d.high.push(f[2]); d.low.push(f[3]); d.close.push(f[4]); d.volume.push(f[5]);
  }
  return d;
}

function run(fn, inp, d, opts) {
  const n = d.close.length;
  const p = Object.assign({ name: fn, startIdx: 0, endIdx: n - 1 }, opts);
  if (inp === C) p.inReal = d.close;
  else if (inp === CV) { p.inReal = d.close; p.volume = d.volume; }
  else { p.high = d.high; p.low = d.low; if (inp === HLC) p.close = d.close; }
  const r = talib.execute(p);
  if (!r || r.error) throw new Error(fn + ': ' + JSON.stringify(r));
  return r;
}

const lookbacks = ['input,indicator,params,output,begindex'];
let files = 0;
for (const stem of INPUTS) {
  const d = readCandles(path.join(dir, stem + '.csv'));
  const n = d.close.length;
  for (const ind of INDICATORS) {
    for (const set of ind.sets) {
      const opts = Object.assign({}, ind.fixed || {});
      ind.opt.forEach((o, i) => { opts[o] = set[i]; });
      const cache = {};
      const cols = ind.cols.map(([col, fn, out]) => {
        if (!cache[fn]) cache[fn] = run(fn, ind.inp, d, opts);
        const r = cache[fn];
        const vals = r.result[out];
        if (!vals) throw new Error(fn + ': no output ' + out);
        if (r.begIndex + r.nbElement !== n && r.nbElement !== 0) throw new Error(fn + ': output does not end at n-1');
        const full = new Array(n).fill('');
        for (let i = 0; i < r.nbElement; i++) {
          const x = vals[i];
          if (!Number.isFinite(x)) throw new Error(fn + ': non-finite value at ' + (r.begIndex + i));
          full[r.begIndex + i] = String(x);
        }
        lookbacks.push([stem, ind.name, set.join('_'), col, r.nbElement ? r.begIndex : n].join(','));
        return full;
      });
      const rows = ['index,' + ind.cols.map(c => c[0]).join(',')];
      for (let i = 0; i < n; i++) rows.push(i + ',' + cols.map(c => c[i]).join(','));
      fs.writeFileSync(path.join(dir, `${stem}__${ind.name}__${set.join('_')}.csv`), rows.join('\n') + '\n');
      files++;
    }
  }
}
fs.writeFileSync(path.join(dir, 'lookbacks.csv'), lookbacks.join('\n') + '\n');
console.log(`wrote ${files} vector files and lookbacks.csv (talib npm ${talib.version})`);
