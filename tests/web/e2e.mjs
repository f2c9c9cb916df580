// SPDX-License-Identifier: GPL-3.0-or-later
// End-to-end test of the cmee-server web page (docs/web.md) in Debian's chromium, driven by
// playwright-core. Run by run_e2e.py, which starts the server:
//
//   node e2e.mjs BASE_URL RESULTS_JSON SCREENSHOT_PNG      (CMEE_ADMIN_TOKEN in the environment)
//
// With CMEE_E2E_GATEWAY=1 (run_e2e_gateway.py) BASE_URL is the gateway, nginx in front of
// cmee-server and cmee-signals: the signal check then expects cmee-signals' consensus instead of
// "signals service unavailable" (signals_through_gateway replaces
// signals_unavailable_without_gateway); every other check is the same.
//
// Each check prints a TAP line ("ok 3 - candles_render") and the whole list is written to
// RESULTS_JSON as [{"name","ok","message","ms"}]. Exit status 0 when every check passed.
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, resultsPath, screenshotPath] = process.argv.slice(2);
if (!base || !resultsPath || !screenshotPath) {
  console.error('usage: node e2e.mjs BASE_URL RESULTS_JSON SCREENSHOT_PNG');
  process.exit(2);
}
const ADMIN = process.env.CMEE_ADMIN_TOKEN || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GATEWAY = process.env.CMEE_E2E_GATEWAY === '1';

const results = [];
let page;
const pageErrors = [];
const foreign = []; // requests and WebSockets to another origin than the page's
const signalAnswers = []; // [url, status] of every trading/signals answer

// Runs one check; a failure is recorded and the next check still runs (each check that needs
// an earlier one says so with `needs`).
async function check(name, fn, needs = []) {
  const t0 = Date.now();
  let ok = false, message = '';
  const missing = needs.filter((n) => !results.find((r) => r.name === n && r.ok));
  if (missing.length) {
    message = `not run: needs ${missing.join(', ')}`;
  } else {
    try {
      const m = await fn();
      ok = true;
      message = m || '';
    } catch (e) {
      message = String(e && e.stack || e).split('\n').slice(0, 4).join(' | ');
    }
  }
  results.push({ name, ok, message, ms: Date.now() - t0 });
  console.log(`${ok ? 'ok' : 'not ok'} ${results.length} - ${name}${message ? ' # ' + message : ''}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// Polls fn() in the page until it returns a truthy value.
async function until(fn, arg, timeout, what) {
  try {
    const h = await page.waitForFunction(fn, arg, { timeout, polling: 100 });
    return await h.jsonValue();
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

const errorText = () => page.evaluate(() => {
  const el = document.getElementById('error');
  return el.hidden ? '' : document.getElementById('error-text').textContent;
});

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e.stack || e).split('\n').slice(0, 3).join(' ')));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push('console: ' + m.text()); });
  const origin = new URL(base).host;
  const note = (url) => {
    const u = new URL(url);
    if (/^(https?|wss?):$/.test(u.protocol) && u.host !== origin) foreign.push(url);
  };
  page.on('request', (r) => note(r.url()));
  page.on('websocket', (ws) => note(ws.url()));
  page.on('response', (r) => {
    if (/\/trading\/signals\?/.test(r.url())) signalAnswers.push([r.url(), r.status()]);
  });

  await check('page_loads', async () => {
    const res = await page.goto(base + '/', { waitUntil: 'load' });
    assert(res.status() === 200, `GET / answered ${res.status()}`);
    assert((res.headers()['content-type'] || '').startsWith('text/html'), 'not text/html');
    await until(() => document.body.dataset.ready === '1', null, 15000, 'the page to start');
    const err = await errorText();
    assert(!err, `the page shows an error: ${err}`);
  });

  await check('candles_render', async () => {
    const n = await until(() => window.cmee.state.candles.length, null, 10000, 'candles');
    assert(n >= 50, `only ${n} candles loaded`);
    // The chart's own canvas, as drawn: count the pixels of the up and down candle colours.
    const painted = await until(() => {
      const c = window.cmee.chart.takeScreenshot();
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let up = 0, down = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] === 38 && d[i + 1] === 166 && d[i + 2] === 154) up++;
        if (d[i] === 239 && d[i + 1] === 83 && d[i + 2] === 80) down++;
      }
      return up > 200 && down > 200 ? { up, down, w: c.width, h: c.height } : false;
    }, null, 10000, 'candles painted on the canvas');
    return `${n} candles, ${painted.up} up and ${painted.down} down pixels on ${painted.w}x${painted.h}`;
  }, ['page_loads']);

  await check('last_price_moves', async () => {
    const p0 = await page.evaluate(() => document.getElementById('last-price').dataset.price);
    assert(p0 && isFinite(Number(p0)), `no last price shown (${p0})`);
    const p1 = await until((p) => {
      const now = document.getElementById('last-price').dataset.price;
      return window.cmee.state.ticks > 0 && now !== p ? now : false;
    }, p0, 30000, 'the price to change with ticks');
    return `${p0} -> ${p1}`;
  }, ['candles_render']);

  await check('indicator_pane', async () => {
    await page.selectOption('#pane', 'macd');
    await page.check('#ind-bb');
    const px = await until(() => {
      const c = window.cmee.paneChart.takeScreenshot();
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (d[i] === 66 && d[i + 1] === 165 && d[i + 2] === 245) n++; // the MACD line
      return n > 50 ? n : false;
    }, null, 5000, 'the MACD line in the lower pane');
    await page.selectOption('#pane', 'rsi');
    return `${px} MACD pixels`;
  }, ['candles_render']);

  if (GATEWAY) {
    await check('signals_through_gateway', async () => {
      // cmee-signals behind the same origin: a consensus with its score and reasons, and the
      // binary direction (fetched right after the consensus).
      const t = await until(() => {
        const s = document.getElementById('signal').textContent;
        const b = document.getElementById('binary').textContent;
        return s !== '—' && (b || s === 'signals service unavailable' || /^signals:/.test(s))
          ? [s, b, document.querySelectorAll('#signal-reasons li').length] : false;
      }, null, 10000, 'the signal panel');
      assert(/^(BUY|SELL|NEUTRAL) \(score -?[0-9.]+\)$/.test(t[0]), `signal panel says "${t[0]}"`);
      assert(/^binary: (CALL|PUT|NONE)/.test(t[1]), `binary signal says "${t[1]}"`);
      assert(t[2] > 0, 'no reasons listed');
      return `${t[0]}, ${t[1]}, ${t[2]} reasons`;
    }, ['page_loads']);
  } else {
    await check('signals_unavailable_without_gateway', async () => {
      const t = await until(() => {
        const s = document.getElementById('signal').textContent;
        return s !== '—' ? s : false;
      }, null, 10000, 'the signal panel');
      assert(t === 'signals service unavailable', `signal panel says "${t}"`);
    }, ['page_loads']);
  }

  await check('unknown_symbol_shows_server_error', async () => {
    await page.fill('#symbol', 'NOSUCH');
    await page.click('#load');
    const err = await until(() => !document.getElementById('error').hidden &&
      document.getElementById('error-text').textContent, null, 5000, 'an error message');
    assert(/NOSUCH/.test(err) && /symbol/i.test(err), `unexpected message: ${err}`);
    const still = await page.evaluate(() => [window.cmee.state.symbol,
                                              window.cmee.state.candles.length]);
    assert(still[0] === 'BTCUSD' && still[1] > 0, `the chart changed: ${still}`);
    await page.fill('#symbol', 'BTCUSD');
    await page.click('#error-close');
    return err;
  }, ['page_loads']);

  await check('session_create', async () => {
    await page.click('#create-session');
    await until(() => !document.getElementById('session').hidden &&
      document.getElementById('balance').dataset.value === '10000', null, 10000,
    'the session panel with balance 10000');
    await until(() => window.cmee.state.session && window.cmee.state.candles.length > 50, null,
      10000, 'the session chart');
    if (!GATEWAY) return '';
    // Through the gateway cmee-signals analyses the session's own market, read from the store
    // cmee-server wrote it to.
    const id = await page.evaluate(() => window.cmee.state.session.id);
    const t0 = Date.now();
    let a;
    while (!(a = signalAnswers.find(([u]) => u.includes(`session=${id}`))) && Date.now() - t0 < 10000)
      await new Promise((r) => setTimeout(r, 100));
    assert(a, `no trading/signals request for session ${id}`);
    assert(a[1] === 200, `trading/signals for the session answered ${a[1]}`);
    const t = await until(() => /^(BUY|SELL|NEUTRAL) \(score/.test(
      document.getElementById('signal').textContent) &&
      document.getElementById('signal').textContent, null, 5000, 'the session\'s signal');
    return `session signal: ${t}`;
  }, ['page_loads']);

  await check('market_order', async () => {
    await page.fill('#qty', '0.01');
    await page.click('#buy');
    await until(() => document.querySelectorAll('#positions tbody tr').length === 1 &&
      [...document.querySelectorAll('#ledger tbody td')].some((td) => td.textContent === 'fee'),
    null, 10000, 'a position and a fee in the ledger');
    const err = await errorText();
    assert(!err, `error shown: ${err}`);
  }, ['session_create']);

  await check('empty_stake_shows_server_error', async () => {
    await page.fill('#stake', '');
    await page.click('#call');
    const err = await until(() => !document.getElementById('error').hidden &&
      document.getElementById('error-text').textContent, null, 5000, 'an error message');
    assert(/stake/.test(err), `unexpected message: ${err}`);
    await page.click('#error-close');
    return err;
  }, ['session_create']);

  await check('crash_preset_drops_price', async () => {
    await page.click('button.speed[data-speed="60"]');
    await until(() => /60x/.test(document.getElementById('clock').textContent), null, 5000,
      'the clock at 60x');
    const p0 = await page.evaluate(() => window.cmee.state.lastPrice);
    await page.fill('#admin-token', ADMIN);
    await page.selectOption('#preset', 'crash');
    await page.click('#apply-preset');
    await until(() => /crash/.test(document.getElementById('scenarios').textContent), null,
      5000, 'the scenario listed');
    const p1 = await until((p) => window.cmee.state.lastPrice < p * 0.95 &&
      window.cmee.state.lastPrice, p0, 30000, `the price to fall 5 % below ${p0}`);
    const err = await errorText();
    assert(!err, `error shown: ${err}`);
    return `${p0} -> ${p1}`;
  }, ['session_create']);

  await check('call_option_settles', async () => {
    await page.fill('#stake', '10');
    await page.fill('#expiry', '60');
    await page.click('#call');
    await until(() => document.querySelectorAll('#options tbody tr').length >= 1, null, 5000,
      'the option listed');
    const st = await until(() => {
      const td = document.querySelector('#options tbody tr td:nth-child(6)');
      return td && ['won', 'lost', 'tie'].includes(td.textContent) ? td.textContent : false;
    }, null, 30000, 'the option to settle');
    await until(() => [...document.querySelectorAll('#ledger tbody td')]
      .some((td) => td.textContent === 'option_stake'), null, 5000, 'option_stake in the ledger');
    const err = await errorText();
    assert(!err, `error shown: ${err}`);
    return `settled ${st}`;
  }, ['session_create']);

  await check('screenshot', async () => {
    await page.screenshot({ path: screenshotPath, fullPage: true });
    return screenshotPath;
  }, ['page_loads']);

  await check('no_page_errors', async () => {
    // The one expected failure: the page probing /trading/* (404 without the gateway) logs
    // "Failed to load resource"; and the errors the page was made to show.
    const real = pageErrors.filter((e) => !/Failed to load resource/.test(e));
    assert(real.length === 0, real.join(' ; '));
  });

  await check('same_origin_only', async () => {
    // Every URL of the page is relative to it (docs/web.md): nothing goes elsewhere.
    assert(foreign.length === 0, `requests to another origin: ${foreign.slice(0, 5).join(' ')}`);
  }, ['page_loads']);
} finally {
  await browser.close();
  writeFileSync(resultsPath, JSON.stringify(results, null, 1));
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
