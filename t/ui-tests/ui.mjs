// Browser tests of the web UI, driven by t/37-ui.t: Playwright's library
// (playwright-core, no browser of its own) in Debian's Chromium, headless,
// a fresh profile each run.  Prints one line per check, "ok - NAME" or
// "not ok - NAME" followed by "# " lines, "screenshot PATH" for each
// screenshot, and "end" when every step ran.
//
//   node ui.mjs main URL SHOTS       ask, progress, rows, charts, re-run,
//                                    errors, history, traces, accessibility
//   node ui.mjs auth URL SHOTS       qna_auth jwt: sign-in, 401, 403
//                                    (tokens in UI_TOKEN_VIEWER and
//                                    UI_TOKEN_MANAGER)
//   node ui.mjs llm URL SHOTS        an LLM planner (t/mock/llm.pl): its
//                                    plan as it streams, a correction

import { chromium } from 'playwright-core';
import { readFileSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const script = (name) => readFileSync(join(here, 'scripts', `${name}.py`), 'utf8');

const [mode, base, shots] = process.argv.slice(2);
if (!mode || !base || !shots) {
  console.error('usage: node ui.mjs main|auth|llm URL SCREENSHOT-DIR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const WAIT = 30000; // the longest any one thing may take before it counts as never

function ok(cond, name, diag) {
  console.log(`${cond ? 'ok' : 'not ok'} - ${name}`);
  if (!cond && diag !== undefined) {
    for (const line of String(typeof diag === 'string' ? diag : JSON.stringify(diag, null, 1)).split('\n')) console.log(`# ${line}`);
  }
  return Boolean(cond);
}

function is(got, want, name) {
  return ok(got === want, name, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// a step that throws fails, and the next one still runs
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    ok(false, `${name}: ran to its end`, err.stack || String(err));
  }
}

let shotCount = 0;
async function shot(page, name) {
  shotCount += 1;
  const path = join(shots, `${mode}-${String(shotCount).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot ${path}`);
}

// --- the browser ----------------------------------------------------------

const profile = mkdtempSync(join(tmpdir(), 'qna-ui-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
  reducedMotion: 'no-preference',
});
const page = context.pages()[0] || await context.newPage();

// nothing leaves the gateway's origin; no script error; no CSP refusal
const origin = new URL(base).origin;
const foreign = [];
const problems = [];
page.on('request', (r) => {
  const u = new URL(r.url());
  if (u.origin !== origin && u.protocol !== 'data:') foreign.push(r.url());
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  const t = m.text();
  // a 4xx the page asked for and showed is no problem of the page's
  if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d|503)/.test(t)) problems.push(`console: ${t}`);
  if (/Content Security Policy/i.test(t)) problems.push(`CSP: ${t}`);
});

async function open(path = '/') {
  const response = await page.goto(base + path);
  await page.waitForSelector('html[data-ready]', { timeout: WAIT });
  return response;
}

// the re-run's chart alone
async function figure(name) {
  shotCount += 1;
  const path = join(shots, `${mode}-${String(shotCount).padStart(2, '0')}-${name}-figure.png`);
  await page.locator('#rerun-body figure.chart').screenshot({ path });
  console.log(`screenshot ${path}`);
}

const text = (sel) => page.$eval(sel, (e) => e.textContent);
const count = (sel) => page.$$eval(sel, (l) => l.length);

// --- accessibility ---------------------------------------------------------

// axe-core in the page (evaluated by the driver: the page's CSP forbids
// inline script, and the page needs none), WCAG 2.1 A and AA rules and
// the best practices; serious and critical violations fail
async function axe(where) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return {
      violations: res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })),
      passes: res.passes.length,
    };
  });
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  ok(bad.length === 0, `axe-core (${where}): no serious or critical violation`, bad);
  const minor = r.violations.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`# axe-core (${where}), minor: ${minor.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
  return r;
}

// our own checks, whatever axe says: every control has a label, every
// chart a name, images of charts a description
async function ownA11y(where) {
  const r = await page.evaluate(() => {
    const unlabelled = [];
    for (const el of document.querySelectorAll('input, textarea, select')) {
      if (el.type === 'hidden' || el.closest('[hidden]')) continue;
      const named = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label');
      if (!named) unlabelled.push(el.id || el.outerHTML.slice(0, 80));
    }
    const buttons = [...document.querySelectorAll('button, a[href]')].filter((b) => !b.closest('[hidden]') && !(b.textContent.trim() || b.getAttribute('aria-label')));
    const charts = [...document.querySelectorAll('svg.chart-svg')].map((svg) => {
      const t = svg.getAttribute('aria-labelledby') && document.getElementById(svg.getAttribute('aria-labelledby'));
      const d = svg.getAttribute('aria-describedby') && document.getElementById(svg.getAttribute('aria-describedby'));
      return { role: svg.getAttribute('role'), title: t ? t.textContent : '', desc: d ? d.textContent : '', table: Boolean(svg.closest('figure').querySelector('table.visually-hidden')) };
    });
    return { unlabelled, buttons: buttons.map((b) => b.outerHTML.slice(0, 80)), charts };
  });
  ok(r.unlabelled.length === 0, `${where}: every input has a label`, r.unlabelled);
  ok(r.buttons.length === 0, `${where}: every button and link has a name`, r.buttons);
  for (const c of r.charts) {
    ok(c.role === 'img' && c.title.length > 3 && c.desc.length > 20 && c.table, `${where}: a chart is an img with a title, a description and a hidden table`, c);
  }
}

// WCAG's contrast ratio of two CSS colours (rgb() or #rrggbb)
function rgb(c) {
  c = c.trim();
  if (c.startsWith('#')) return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  return c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
}
function ratio(a, b) {
  const lum = (x) => {
    const [r, g, bl] = rgb(x).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

// the palette of app.css: text on its backgrounds at 4.5:1, the lines of
// charts, borders and the focus ring at 3:1 (WCAG 1.4.3, 1.4.11)
const TEXT_PAIRS = [
  ['--fg', '--bg'], ['--muted', '--bg'], ['--muted', '--panel'], ['--fg', '--panel'], ['--accent', '--bg'],
  ['--accent', '--panel'], ['--accent-fg', '--accent'], ['--accent-fg', '--accent-hover'], ['--accent-fg', '--muted'],
  ['--error-fg', '--error-bg'], ['--error-fg', '--bg'], ['--fg', '--error-bg'], ['--accent', '--error-bg'],
  ['--ok', '--bg'], ['--ok', '--ok-bg'], ['--fg', '--code-bg'], ['--tok-keyword', '--code-bg'], ['--tok-string', '--code-bg'],
  ['--tok-number', '--code-bg'], ['--tok-comment', '--code-bg'], ['--tok-call', '--code-bg'], ['--tok-builtin', '--code-bg'],
  ['--threshold', '--bg'],
];
const GRAPHIC_PAIRS = [
  ['--c0', '--bg'], ['--c1', '--bg'], ['--c2', '--bg'], ['--c3', '--bg'], ['--c4', '--bg'], ['--c5', '--bg'],
  ['--border', '--bg'], ['--focus', '--bg'], ['--focus', '--panel'], ['--border', '--panel'],
];

async function palette() {
  const vars = await page.evaluate((names) => {
    const cs = getComputedStyle(document.documentElement);
    return Object.fromEntries(names.map((n) => [n, cs.getPropertyValue(n).trim()]));
  }, [...new Set([...TEXT_PAIRS, ...GRAPHIC_PAIRS].flat())]);
  const low = [];
  for (const [pairs, min] of [[TEXT_PAIRS, 4.5], [GRAPHIC_PAIRS, 3]]) {
    for (const [a, b] of pairs) {
      if (!vars[a] || !vars[b]) low.push(`${a} or ${b} is not defined`);
      else if (ratio(vars[a], vars[b]) < min) low.push(`${a} ${vars[a]} on ${b} ${vars[b]}: ${ratio(vars[a], vars[b]).toFixed(2)} < ${min}`);
    }
  }
  ok(low.length === 0, `the palette's ${TEXT_PAIRS.length} text pairs reach 4.5:1 and its ${GRAPHIC_PAIRS.length} graphic pairs 3:1`, low.join('\n'));
  const worst = Math.min(...TEXT_PAIRS.map(([a, b]) => ratio(vars[a], vars[b])));
  console.log(`# lowest text contrast of the palette: ${worst.toFixed(2)}:1`);
}

// the focused element shows a ring of at least 2 px, not only a colour
async function focusRing(name) {
  const r = await page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return { id: el.id || el.className || el.tagName, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor };
  });
  ok(r.style !== 'none' && r.width >= 2, `${name}: the focus is visible (${r.style} ${r.width}px)`, r);
}

// the focus walks forward with Tab until the predicate holds
async function tabTo(pred, max = 30) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(pred)) return true;
  }
  return false;
}

// ============================================================================

async function main() {
  let response;
  await step('the page', async () => {
    response = await open('/');
    is(response.status(), 200, 'GET / answers the page');
    const csp = response.headers()['content-security-policy'] || '';
    ok(/default-src 'self'/.test(csp) && /script-src 'self'(;|$)/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp),
      'a Content-Security-Policy of the page\'s own origin only, no inline script', csp);
    is(await page.title(), 'QnA gateway', 'the title');
    is(await text('#who'), 'Anonymous (viewer)', 'anonymous, a viewer (make run and the tests let viewers use /execute)');
    await palette();
  });

  // --- keyboard: tab order, the skip link, Enter asks ---------------------
  await step('keyboard', async () => {
    const order = [];
    for (let i = 0; i < 8; i += 1) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => {
        const e = document.activeElement;
        return e.id || (e.className && String(e.className)) || e.tagName.toLowerCase();
      }));
      if (i === 0) await focusRing('the skip link');
    }
    is(order.slice(0, 7).join(' '), 'skip-link nav-ask nav-history sign-in-open question ask no-cache',
      'the focus order: skip link, views, sign-in, question, Ask, options');
    const skipVisible = await page.evaluate(() => {
      document.querySelector('.skip-link').focus();
      const r = document.querySelector('.skip-link').getBoundingClientRect();
      return r.top >= 0 && r.height > 0;
    });
    ok(skipVisible, 'the skip link shows when focused');
    await page.keyboard.press('Enter');
    is(await page.evaluate(() => document.activeElement.id), 'question', 'Enter on the skip link: the question has the focus');
    await focusRing('the question field');
    await page.keyboard.type('What is the 30-day volatility of TSLA?');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#progress li[data-event="done"]', { timeout: WAIT });
  });

  // --- live progress and the answer ---------------------------------------
  let answer;
  await step('progress and answer', async () => {
    is(await page.getAttribute('#progress', 'aria-live'), 'polite', 'the progress list is a polite live region');
    const events = await page.$$eval('#progress li', (l) => l.map((e) => e.dataset.event));
    is(events.join(' '), 'accepted validated execution_started mcp_call mcp_call result done',
      'progress: accepted, validated, execution_started, a mcp_call per tool as it ended, result, done');
    const calls = await page.$$eval('#progress li[data-event="mcp_call"]', (l) => l.map((e) => e.textContent));
    ok(/alpaca_market_stocks_bars — \d+ ms — ok/.test(calls[0] || '') && /calculate_volatility — \d+ ms — ok/.test(calls[1] || ''),
      'each tool call with its duration and outcome', calls);
    ok(/calculate_volatility/.test(await text('#plan-text')), 'the builtin planner\'s plan shown at validated');
    await page.waitForSelector('#answer:not([hidden])');
    answer = await page.evaluate(() => ({
      rows: [...document.querySelectorAll('#answer-rows table.rows tbody tr')].map((tr) => [tr.dataset.key, tr.children[1].textContent, tr.children[2].textContent]),
      code: document.querySelector('#code').textContent,
      lines: document.querySelectorAll('#code .line').length,
      kinds: [...new Set([...document.querySelectorAll('#code [class^="tok-"]')].map((e) => e.className))].sort(),
      explanation: document.querySelector('#explanation').textContent,
      params: [...document.querySelectorAll('#params-fields input')].map((i) => [i.dataset.key, i.type, i.value]),
    }));
    const keys = answer.rows.map((r) => r[0]);
    is(keys.join(' '), 'annualized_volatility daily_volatility period data_source', 'the answer\'s rows');
    ok(/^0\.\d+$/.test(answer.rows[0][1]), 'annualized_volatility is a number', answer.rows[0]);
    ok(/30 daily returns/.test(answer.rows[0][2]), 'with its description', answer.rows[0]);
    ok(/calculate_volatility/.test(answer.explanation), 'the explanation');
    ok(/PARAMS = \{"symbol": "TSLA", "period_days": 30\}/.test(answer.code), 'the generated Python');
    is(answer.lines, answer.code.split('\n').length, 'one numbered line per line of the script');
    ok(['tok-builtin', 'tok-call', 'tok-comment', 'tok-keyword', 'tok-number', 'tok-string'].every((k) => answer.kinds.includes(k)),
      'highlighted: comments, strings, numbers, keywords, builtins, calls', answer.kinds);
    is(JSON.stringify(answer.params), JSON.stringify([['symbol', 'text', 'TSLA'], ['period_days', 'number', '30']]),
      'PARAMS as a form: the symbol as text, the period as a number');
    await shot(page, 'answer');
    await ownA11y('the answer');
    await axe('the answer');
  });

  // --- PARAMS edited and re-run through /execute ---------------------------
  await step('re-run', async () => {
    await page.focus('#params-fields input[data-key="period_days"]');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('20');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#rerun-body table.rows', { timeout: WAIT });
    const rows = await page.$$eval('#rerun-body table.rows tbody tr', (l) => l.map((tr) => [tr.dataset.key, tr.children[1].textContent, tr.children[2].textContent]));
    const byKey = Object.fromEntries(rows.map((r) => [r[0], r]));
    ok(byKey.annualized_volatility && /20 daily returns/.test(byKey.annualized_volatility[2]), 're-run with period_days 20: 20 daily returns', rows);
    ok(byKey.period && byKey.period[2] === '21 daily closes', '  over 21 closes', rows);
    ok(byKey.annualized_volatility && byKey.annualized_volatility[1] !== answer.rows[0][1], '  a volatility other than the first one', [byKey.annualized_volatility, answer.rows[0]]);
    is(await page.evaluate(() => document.activeElement.id), 'rerun-title', 'the focus moves to the re-run\'s result');
    await shot(page, 'rerun');
  });

  // --- charts, from scripts edited in the page ------------------------------
  async function runScript(name, params) {
    if (await page.getAttribute('#edit-script', 'aria-pressed') !== 'true') {
      await page.focus('#edit-script');
      await page.keyboard.press('Enter');
      is(await page.evaluate(() => document.activeElement.id), 'script-editor', `${name}: "Edit the script" by keyboard, the editor has the focus`);
    }
    await page.fill('#script-editor', script(name));
    for (const [key, value] of Object.entries(params || {})) {
      await page.fill(`#params-fields input[data-key="${key}"]`, String(value));
    }
    await page.$eval('#rerun-body', (e) => { e.textContent = ''; });
    await page.click('#rerun');
    await page.waitForSelector('#rerun-body figure.chart, #rerun-body .error-card', { timeout: WAIT });
  }

  await step('line chart', async () => {
    await runScript('line', { period_days: 60 });
    const c = await page.evaluate(() => {
      const fig = document.querySelector('#rerun-body figure.chart');
      const pts = (d) => (d.match(/[ML]/g) || []).length;
      return {
        type: fig.dataset.type,
        series: [...fig.querySelectorAll('path.series')].map((p) => [p.dataset.name, Number(p.dataset.points), pts(p.getAttribute('d')), (p.getAttribute('d').match(/M/g) || []).length]),
        bands: fig.querySelectorAll('path.band').length,
        levels: [...fig.querySelectorAll('g.level text')].map((t) => t.textContent),
        markers: [...fig.querySelectorAll('g.marker text')].map((t) => t.textContent),
        rowKeys: [...document.querySelectorAll('#rerun-body table.rows tbody tr')].map((tr) => tr.dataset.key),
        title: fig.querySelector('svg title').textContent,
        summaryRows: fig.querySelectorAll('table.visually-hidden tbody tr').length,
        yLabel: [...fig.querySelectorAll('.axis-label')].map((t) => t.textContent),
      };
    });
    is(c.type, 'line', 'a line chart');
    is(JSON.stringify(c.series), JSON.stringify([['close', 60, 60, 1], ['SMA 5', 56, 56, 1]]),
      'period_days 60: 60 closes drawn, the SMA\'s 56 (nulls until its window is full), each one unbroken line');
    is(c.bands, 1, 'the Bollinger band');
    ok(c.levels.length === 2 && /^support /.test(c.levels[0]) && /^resistance /.test(c.levels[1]), 'support and resistance levels', c.levels);
    is(JSON.stringify(c.markers), '["highest close"]', 'the marker');
    is(c.rowKeys.join(' '), 'points last_close', 'the chart row is not shown as a plain row');
    is(c.title, 'TSLA closes, SMA 5 and Bollinger bands', 'the chart\'s title is its row\'s description');
    is(c.summaryRows, 4, 'its hidden summary: two series, the band\'s two sides');
    is(c.yLabel.join(), 'USD', 'the y label');
    // the whole data behind a disclosure, by keyboard
    await page.focus('#rerun-body details.chart-data summary');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#rerun-body details.chart-data table.data tbody tr', { timeout: WAIT });
    is(await count('#rerun-body details.chart-data table.data tbody tr'), 60, 'the chart\'s data as a table: 60 rows');
    await shot(page, 'line-chart');
    await figure('line-chart');
    await ownA11y('a line chart');
    await axe('a line chart');
  });

  await step('thresholds', async () => {
    await runScript('rsi', { symbol: 'NVDA', period_days: 45 });
    const c = await page.evaluate(() => ({
      thresholds: [...document.querySelectorAll('#rerun-body g.threshold text')].map((t) => t.textContent),
      points: Number(document.querySelector('#rerun-body path.series').dataset.points),
    }));
    is(c.thresholds.join(' '), '30 70', 'RSI: its 30 and 70 thresholds');
    is(c.points, 45, '  45 values (period_days 45)');
    await figure('rsi-chart');
  });

  await step('heat map', async () => {
    await runScript('heatmap');
    const c = await page.evaluate(() => {
      const fig = document.querySelector('#rerun-body figure.chart');
      const cells = [...fig.querySelectorAll('rect.cell')];
      return {
        type: fig.dataset.type,
        cells: cells.length,
        diagonal: cells.filter((r) => r.dataset.row === r.dataset.col).map((r) => Number(r.dataset.value)),
        // as drawn: computed, whatever the attributes say
        inks: [...fig.querySelectorAll('text.cell-text')].map((t) => [getComputedStyle(t).fill, getComputedStyle(t.previousElementSibling).fill]),
        table: fig.querySelectorAll('table.visually-hidden tbody tr').length,
      };
    });
    is(c.type, 'heatmap', 'a heat map');
    is(c.cells, 16, '4 symbols: 16 cells');
    ok(c.diagonal.length === 4 && c.diagonal.every((v) => Math.abs(v - 1) < 1e-9), 'the diagonal is 1', c.diagonal);
    const low = c.inks.filter(([ink, fill]) => ratio(ink, fill) < 4.5);
    ok(c.inks.length === 16 && low.length === 0, 'every cell\'s value readable on its colour (4.5:1)', low);
    is(c.table, 4, 'its values as a hidden table');
    await shot(page, 'heatmap');
    await figure('heatmap');
    await axe('a heat map');
  });

  await step('bars', async () => {
    await runScript('bars');
    const c = await page.evaluate(() => {
      const fig = document.querySelector('#rerun-body figure.chart');
      return {
        type: fig.dataset.type,
        bars: [...fig.querySelectorAll('rect.bar')].map((r) => r.dataset.label),
        negative: fig.querySelectorAll('rect.bar.negative').length,
        values: [...fig.querySelectorAll('rect.bar')].map((r) => Number(r.dataset.value)),
      };
    });
    is(c.type, 'bars', 'a bar chart');
    is(c.bars.join(' '), 'AAPL MSFT NVDA XOM KO', '5 bars, one per symbol');
    is(c.negative, c.values.filter((v) => v < 0).length, 'the negative ones drawn as such');
    await figure('bars');
  });

  // an edited script that fails: the error, not a chart
  await step('a failing script', async () => {
    await page.fill('#script-editor', 'PARAMS = {}\nresult = 1 / 0\n');
    await page.$eval('#rerun-body', (e) => { e.textContent = ''; });
    await page.click('#rerun');
    await page.waitForSelector('#rerun-body .error-card', { timeout: WAIT });
    is(await page.getAttribute('#rerun-body .error-card', 'data-code'), 'EXECUTION_FAILED', 'a script that raises: EXECUTION_FAILED');
    ok(/ZeroDivisionError/.test(await text('#rerun-body .error-card')), '  with the exception named');
    // back to the planner's script
    await page.focus('#edit-script');
    await page.keyboard.press('Enter');
  });

  // --- an unsupported question: the error and its suggestions ---------------
  await step('error', async () => {
    await page.focus('#question');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('What is the weather in Paris?');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#ask-error .error-card', { timeout: WAIT });
    const e = await page.evaluate(() => {
      const card = document.querySelector('#ask-error .error-card');
      return {
        code: card.dataset.code, role: card.getAttribute('role'), text: card.textContent,
        suggestions: [...card.querySelectorAll('.suggestions li')].map((l) => l.textContent),
        rid: (card.querySelector('.request-id code') || {}).textContent,
        events: [...document.querySelectorAll('#progress li')].map((l) => l.dataset.event),
      };
    });
    is(e.code, 'UNSUPPORTED_QUESTION', 'an unsupported question: UNSUPPORTED_QUESTION');
    is(e.role, 'alert', '  announced (role alert)');
    ok(/\(HTTP 422\)/.test(e.text) && /cannot answer/.test(e.text), '  its status and message', e.text);
    ok(e.suggestions.length >= 10 && e.suggestions.includes('What is the 30-day volatility of TSLA?'), '  its recovery suggestions', e.suggestions);
    ok(/^[0-9a-f]{32}$/.test(e.rid || ''), '  its request id', e.rid);
    is(e.events.join(' '), 'accepted error done', '  the stream said accepted, error, done');
    await shot(page, 'error');
    await axe('an error');
    // a suggestion is a button that asks it
    await page.click('#ask-error .suggestions button:text-is("What is the current price of AAPL?")');
    await page.waitForSelector('#answer:not([hidden]) table.rows', { timeout: WAIT });
    ok(/price of AAPL/i.test(await text('#answer-question')), 'a suggestion asks itself');
  });

  // --- history and traces ----------------------------------------------------
  let sessionId;
  await step('history', async () => {
    sessionId = await page.evaluate(() => document.querySelector('#session-line code').title);
    await page.focus('#nav-history');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#session-list li.session', { timeout: WAIT });
    is(await page.evaluate(() => document.activeElement.id), 'history-title', 'History: the focus on its heading');
    ok(/this browser started/.test(await text('#history')), 'anonymous: the sessions this browser started (no list of all)');
    is(await count('#session-list li.session'), 1, 'one session: every question continued it');
    // the audit trail is written after the answer: open until recorded
    let rows = 0;
    for (let i = 0; i < 40 && rows < 3; i += 1) {
      if (i > 0) {
        await page.click('#history-refresh');
        await page.waitForSelector('#session-list li.session', { timeout: WAIT });
      }
      await page.focus(`#session-list button.disclosure[data-session="${sessionId}"]`);
      await page.keyboard.press('Enter');
      await page.waitForSelector(`#session-${sessionId} h3`, { timeout: WAIT });
      await page.waitForFunction((id) => !document.querySelector(`#session-${id} .loading`), sessionId, { timeout: WAIT });
      rows = await count(`#session-${sessionId} table.executions:not(.runs) tbody tr`);
      if (rows < 3) await page.waitForTimeout(250);
    }
    const h = await page.evaluate((id) => {
      const body = document.getElementById(`session-${id}`);
      return {
        turns: [...body.querySelectorAll('.turns li')].map((l) => l.querySelector('.turn-role').textContent),
        execs: [...body.querySelectorAll('table.executions:not(.runs) tbody tr')].map((tr) => [tr.children[1].textContent, tr.children[2].textContent, tr.children[3].textContent]),
        runs: body.querySelectorAll('table.runs tbody tr').length,
      };
    }, sessionId);
    ok(h.turns.length >= 4 && h.turns[0] === 'Question' && h.turns[1] === 'Answer', 'the session\'s turns, questions and answers', h.turns);
    ok(h.execs.some((e) => e[0] === 'analyze' && e[1] === 'success' && /volatility of TSLA/.test(e[2])), 'its executions, the volatility one among them', h.execs);
    ok(h.execs.some((e) => e[1] === 'failed' && /weather/.test(e[2])), '  and the unsupported question, failed', h.execs);
    is(h.runs, 5, 'the five re-runs of its scripts, as this browser remembers them');
    await shot(page, 'history');
    await ownA11y('the history');
    await axe('the history');
  });

  await step('trace', async () => {
    // the volatility execution's trace, by keyboard
    const link = await page.evaluateHandle((id) => {
      const tr = [...document.querySelectorAll(`#session-${id} table.executions:not(.runs) tbody tr`)].find((r) => /volatility of TSLA/.test(r.children[3].textContent));
      return tr.querySelector('a.trace-link');
    }, sessionId);
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#trace table.audit', { timeout: WAIT });
    const t = await page.evaluate(() => ({
      facts: Object.fromEntries([...document.querySelectorAll('#trace dl.facts dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
      calls: [...document.querySelectorAll('#trace table.calls tbody tr')].map((tr) => [tr.dataset.tool, tr.children[2].textContent, tr.children[3].textContent, tr.children[4].textContent]),
      audit: [...document.querySelectorAll('#trace table.audit tbody tr')].map((tr) => tr.dataset.event),
      script: document.querySelectorAll('#trace pre.code .line').length,
      result: document.querySelectorAll('#trace table.rows tbody tr').length,
      focus: document.activeElement.id,
    }));
    is(t.focus, 'trace-title', 'the trace: the focus on its heading');
    ok(t.facts.Kind === 'analyze' && t.facts.Status === 'success' && /volatility of TSLA/.test(t.facts.Question), 'the execution: analyze, success, its question', t.facts);
    ok(t.calls.length === 2 && t.calls[0][0] === 'alpaca_market_stocks_bars' && /"limit":31/.test(t.calls[0][1]) && /ms$/.test(t.calls[0][2]) && t.calls[0][3] === 'ok',
      'its tool calls with their arguments, durations and outcomes', t.calls);
    ok(['question_submitted', 'script_generated', 'execution_started', 'execution_finished'].every((e) => t.audit.includes(e)), 'its audit events', t.audit);
    ok(t.script > 10, 'its script, highlighted', t.script);
    is(t.result, 4, 'its result');
    await shot(page, 'trace');
    await axe('a trace');
    // a re-run's trace: kind execute, with its params
    await page.goBack();
    await page.waitForSelector('#session-list li.session', { timeout: WAIT });
    await page.click(`#session-list button.disclosure[data-session="${sessionId}"]`);
    await page.waitForSelector(`#session-${sessionId} table.runs a.trace-link`, { timeout: WAIT });
    const last = await page.$$(`#session-${sessionId} table.runs a.trace-link`);
    await last[last.length - 1].click();
    await page.waitForSelector('#trace table.audit', { timeout: WAIT });
    const r = await page.evaluate(() => ({
      kind: [...document.querySelectorAll('#trace dl.facts dt')].find((dt) => dt.textContent === 'Kind').nextElementSibling.textContent,
      params: (document.querySelector('#trace pre.json') || {}).textContent || '',
    }));
    ok(r.kind === 'execute' && /"period_days": 20/.test(r.params), 'the first re-run\'s trace: an /execute with period_days 20', r);
  });

  await step('continue a session', async () => {
    await page.goto(`${base}/#history`);
    await page.waitForSelector('#session-list li.session', { timeout: WAIT });
    await page.click('#session-list li.session button.secondary');
    await page.waitForSelector('#view-ask:not([hidden])');
    is(await page.evaluate(() => document.querySelector('#session-line code').title), sessionId, '"Continue this session": the next question continues it');
    await page.click('#new-session');
    ok(/new session starts/.test(await text('#session-line')), '"New session": the next one starts anew');
  });

  await step('a proposal', async () => {
    // no stock named: the gateway proposes one (auto_expand), the page asks
    await page.fill('#question', 'How volatile is it?');
    await page.press('#question', 'Enter');
    await page.waitForSelector('#proposal .proposal', { timeout: WAIT });
    ok(/How volatile is it for [A-Z]+\?/.test(await text('#proposal')), 'a question without its stock: a completion proposed', await text('#proposal'));
    await page.focus('#proposal-yes');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#answer:not([hidden]) table.rows', { timeout: WAIT });
    ok(/volatility/.test(await text('#answer-rows')), '  confirmed: its answer');
    await shot(page, 'proposal-answer');
  });

  // --- the rest ----------------------------------------------------------------
  await step('motion', async () => {
    is(await page.$eval('.spinner', (e) => getComputedStyle(e).animationName), 'spin', 'the spinner turns');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    is(await page.$eval('.spinner', (e) => getComputedStyle(e).animationName), 'none', 'prefers-reduced-motion: it does not');
    await page.emulateMedia({ reducedMotion: 'no-preference' });
  });

  await step('unit', async () => {
    // the modules' pure parts, in the page
    const u = await page.evaluate(async () => {
      const { createParser } = await import('/js/sse.js');
      const { tokenize } = await import('/js/highlight.js');
      const { niceTicks, chartProblem } = await import('/js/chart.js');
      const got = [];
      const p = createParser((n, d) => got.push([n, d]));
      for (const piece of ['event: a\r', '\ndata: {"x":', '1}\n\n: heartbeat\n\nevent: b\ndata: 1\ndata: 2\n', '\nevent: c\ndata: cut']) p.push(piece);
      p.end();
      const src = 'x = f"a{1}" + 0x1f  # c\ndef g(a):\n    """doc\n"""\n    return len(a)\n';
      return {
        sse: got,
        joins: tokenize(src).map((t) => t.text).join('') === src,
        kinds: tokenize(src).filter((t) => t.type !== 'space').map((t) => t.type).join(' '),
        ticks: niceTicks(0.13, 0.87, 5),
        bad: [chartProblem({ type: 'pie' }), chartProblem({ type: 'heatmap', labels: ['a'], matrix: [[1, 2]] }), chartProblem({ type: 'bars', labels: ['a'], values: [1] })],
      };
    });
    is(JSON.stringify(u.sse), JSON.stringify([['a', '{"x":1}'], ['b', '1\n2']]), 'SSE parser: events split anywhere, CRLF, comments, multi-line data; a cut one dropped');
    ok(u.joins, 'the highlighter\'s tokens join back into the source');
    is(u.kinds, 'name op string op number comment keyword def op name op op string keyword builtin op name op', '  and say what each is');
    is(JSON.stringify(u.ticks), '[0,0.2,0.4,0.6,0.8,1]', 'nice ticks');
    ok(u.bad[0] && u.bad[1] && u.bad[2] === null, 'charts that cannot be drawn are told apart', u.bad);
  });
}

// ============================================================================

async function auth() {
  const viewer = process.env.UI_TOKEN_VIEWER;
  const manager = process.env.UI_TOKEN_MANAGER;
  ok(viewer && manager, 'tokens given (UI_TOKEN_VIEWER, UI_TOKEN_MANAGER)');

  await step('the page without a token', async () => {
    const response = await open('/');
    is(response.status(), 200, 'qna_auth jwt: the page itself needs no token');
    await page.waitForSelector('#sign-in:not([hidden])', { timeout: WAIT });
    ok(/needs a token/.test(await text('#sign-in-why')), '/users/me said 401: the sign-in shows, saying why');
    is(await page.evaluate(() => document.activeElement.id), 'token', '  the focus in the token field');
    is(await page.getAttribute('#token', 'type'), 'password', '  a password field');
    await shot(page, 'sign-in');
    await ownA11y('the sign-in');
    await axe('the sign-in');
  });

  await step('a question without a token', async () => {
    await page.focus('#question');
    await page.keyboard.type('What is the 30-day volatility of TSLA?');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#ask-error .error-card', { timeout: WAIT });
    is(await page.getAttribute('#ask-error .error-card', 'data-code'), 'UNAUTHORIZED', 'asked without a token: 401 UNAUTHORIZED shown');
    ok(/HTTP 401/.test(await text('#ask-error .error-card')), '  with its status');
    is(await page.evaluate(() => document.activeElement.id), 'token', '  and the token field has the focus');
  });

  await step('a bad token', async () => {
    await page.keyboard.type('not.a.token');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#sign-in-error .error-card', { timeout: WAIT });
    ok(/refused/.test(await text('#sign-in-error')), 'a malformed token: refused, saying why');
    is(await page.evaluate(() => sessionStorage.getItem('qna.token')), null, '  and not kept');
  });

  await step('sign in', async () => {
    await page.fill('#token', '');
    await page.focus('#token');
    await page.keyboard.type(viewer);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#sign-in[hidden]', { state: 'attached', timeout: WAIT });
    is(await text('#who'), 'Signed in as alice (viewer)', 'signed in: alice, a viewer');
    is(await page.evaluate(() => sessionStorage.getItem('qna.token')), viewer, '  the token in sessionStorage');
    // the question that was refused is asked again
    await page.waitForSelector('#answer:not([hidden]) table.rows', { timeout: WAIT });
    const events = await page.$$eval('#progress li', (l) => l.map((e) => e.dataset.event));
    is(events[0], 'accepted', 'the refused question asked again once signed in, as a stream');
    is(await count('#answer-rows table.rows tbody tr'), 4, '  its rows');
    await shot(page, 'signed-in-answer');
  });

  await step('forbidden', async () => {
    await page.fill('#params-fields input[data-key="period_days"]', '10');
    await page.click('#rerun');
    await page.waitForSelector('#rerun-body .error-card', { timeout: WAIT });
    const t = await text('#rerun-body .error-card');
    is(await page.getAttribute('#rerun-body .error-card', 'data-code'), 'FORBIDDEN', '/execute as a viewer: 403 FORBIDDEN');
    ok(/manager's role/.test(t) && /you are a viewer/.test(t) && /HTTP 403/.test(t), '  saying a manager is needed', t);
    ok(/required_role/.test(t), '  with its details', t);
    await shot(page, 'forbidden');
    await axe('403');
    await page.click('#rerun-body .error-card button');
    await page.waitForSelector('#sign-in:not([hidden])');
    await page.keyboard.type(manager);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#rerun-body table.rows', { timeout: WAIT });
    is(await text('#who'), 'Signed in as alice (manager)', 'signed in again as a manager');
    ok(/10 daily returns/.test(await text('#rerun-body table.rows')), '  the re-run ran: period_days 10');
  });

  await step('history signed in', async () => {
    await page.click('#nav-history');
    const loaded = '#history .exec-page table.executions, #history .exec-page .error-card';
    await page.waitForSelector(loaded, { timeout: WAIT });
    // the audit trail is written after the answer: again until recorded
    let n = 0;
    for (let i = 0; i < 40 && n < 2; i += 1) {
      if (i > 0) {
        await page.waitForTimeout(250);
        await page.click('#history-refresh');
        await page.waitForSelector(loaded, { timeout: WAIT });
      }
      n = await count('#history .exec-page table.executions tbody tr');
    }
    const h = await page.evaluate(() => ({
      sessions: document.querySelectorAll('#session-list li.session').length,
      kinds: [...document.querySelectorAll('#history .exec-page table.executions tbody tr')].map((tr) => tr.children[1].textContent).sort(),
      anonymousNote: /this browser started/.test(document.getElementById('history').textContent),
    }));
    is(h.sessions, 1, 'signed in: the gateway\'s list of alice\'s sessions');
    ok(!h.anonymousNote, '  (not only this browser\'s)');
    is(h.kinds.join(' '), 'analyze execute', 'all of alice\'s executions: the analysis and the re-run');
    await shot(page, 'history-signed-in');
    await axe('the history, signed in');
  });

  await step('sign out', async () => {
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in:not([hidden])', { timeout: WAIT });
    is(await page.evaluate(() => sessionStorage.getItem('qna.token')), null, 'signed out: the token is gone');
    ok(/Not signed in/.test(await text('#who')), '  and the page says so');
  });
}

// ============================================================================

async function llm() {
  await step('an LLM\'s plan as it streams', async () => {
    await open('/');
    await page.focus('#question');
    // the mock's first script raises: the model is told and corrects it
    await page.keyboard.type('What was the last close of AAPL? [crash]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#progress li[data-event="done"]', { timeout: WAIT });
    const p = await page.evaluate(() => ({
      events: [...document.querySelectorAll('#progress li')].map((l) => l.dataset.event),
      plans: [...document.querySelectorAll('#progress li[data-event="plan"]')].map((l) => l.textContent),
      text: document.querySelector('#plan-text').textContent,
      pieces: Number(document.querySelector('#plan-text').dataset.pieces),
      open: document.querySelector('#plan-box').open,
    }));
    is(p.events[0], 'accepted', 'accepted first');
    ok(p.plans.length === 2 && /^Planning with gpt/.test(p.plans[0]) && /corrects it \(correction 1\)/.test(p.plans[1]),
      'the plan, then its correction after the script failed, each said once', p.plans);
    ok(p.pieces >= 3, `the corrected plan's text shown as it streamed (${p.pieces} pieces)`, p.pieces);
    ok(/"python_code"/.test(p.text) && /mcp_client\.call/.test(p.text), '  the model\'s own text: its JSON plan', p.text.slice(0, 300));
    ok(p.open, '  left open (it is not the answer\'s script)');
    is(p.events.slice(-2).join(' '), 'result done', 'then the result and done');
    ok(p.events.filter((e) => e === 'mcp_call').length >= 1, '  with its tool calls', p.events);
    await page.waitForSelector('#answer:not([hidden])');
    ok(/planner gpt/.test(await text('#answer-meta')), 'the answer: planned by gpt');
    is(await page.$$eval('#answer-rows table.rows tbody tr', (l) => l.map((r) => r.dataset.key).join(' ')), 'last_close sessions', '  its rows');
    await shot(page, 'llm-plan');
    await axe('an LLM\'s plan');
  });
}

try {
  if (mode === 'main') await main();
  else if (mode === 'auth') await auth();
  else if (mode === 'llm') await llm();
  else ok(false, `a mode: ${mode}`);
  ok(foreign.length === 0, 'no request left the gateway\'s origin', foreign);
  ok(problems.length === 0, 'no script error, no refusal by the CSP', problems.join('\n'));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log('end');
