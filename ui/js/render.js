// An answer's rows and charts, and the contract's error envelope, as
// elements.

import { h } from './dom.js';
import { formatValue, formatNumber } from './format.js';
import { isChartRow, renderChart } from './chart.js';

// result = {description, body: [{key, value, description}]}: a table of
// the rows, and a figure for each chart row (not shown as a plain row)
export function renderResult(result, opts = {}) {
  const wrap = h('div', { class: 'result' });
  if (!result || typeof result !== 'object') {
    wrap.append(h('p', { text: 'No result.' }));
    return wrap;
  }
  const body = Array.isArray(result.body) ? result.body : [];
  const charts = body.filter(isChartRow);
  const rows = body.filter((r) => !isChartRow(r));
  const caption = result.description || opts.caption || 'Result';
  if (rows.length) {
    wrap.append(h('div', { class: 'table-scroll' },
      h('table', { class: 'rows', dataset: { rows: rows.length } },
        h('caption', { text: caption }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Value' }), h('th', { scope: 'col', text: 'Description' }))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { key: r.key } },
          h('th', { scope: 'row' }, h('code', { text: r.key })),
          h('td', { class: typeof r.value === 'number' ? 'num' : null, title: typeof r.value === 'object' && r.value !== null ? JSON.stringify(r.value).slice(0, 2000) : null, text: formatValue(r.value) }),
          h('td', { text: r.description || '' })))))));
  } else if (!charts.length) {
    wrap.append(h('p', { text: `${caption}: no rows.` }));
  }
  for (const r of charts) {
    wrap.append(renderChart(r.value, r.description || caption));
  }
  return wrap;
}

function detailValue(v) {
  if (v === null || typeof v !== 'object') return h('span', { text: formatValue(v) });
  return h('pre', { class: 'json', text: JSON.stringify(v, null, 2) });
}

// the envelope {error: {code, message, details}, recovery_suggestions,
// request_id}, with its status; opts.suggest(text) makes each suggestion
// a button (the unsupported question's examples can be asked at once);
// opts.hint adds a sentence of the page's own
export function renderError(err, opts = {}) {
  const env = err.envelope || err;
  const e = env.error || { code: 'ERROR', message: String(err.message || err), details: {} };
  const details = e.details && typeof e.details === 'object' ? Object.entries(e.details) : [];
  const suggestions = Array.isArray(env.recovery_suggestions) ? env.recovery_suggestions : [];
  const status = err.status ? `HTTP ${err.status}` : env.local ? 'no answer' : '';
  return h('div', { class: 'error-card', role: 'alert', dataset: { code: e.code } },
    h('h3', { class: 'error-title' }, h('span', { class: 'error-code', text: e.code }), status ? ` (${status})` : ''),
    h('p', { class: 'error-message', text: e.message }),
    opts.hint ? h('p', { class: 'error-hint', text: opts.hint }) : null,
    err.retryAfter ? h('p', { text: `Try again in ${err.retryAfter} s (Retry-After).` }) : null,
    details.length ? h('dl', { class: 'error-details' }, details.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, detailValue(v))])) : null,
    suggestions.length ? h('div', { class: 'suggestions' },
      h('h4', { text: 'What you can do' }),
      h('ul', {}, suggestions.map((sg) => h('li', {},
        opts.suggest ? h('button', { type: 'button', class: 'link', onclick: () => opts.suggest(sg) }, sg) : sg)))) : null,
    opts.actions || null,
    env.request_id ? h('p', { class: 'request-id' }, 'Request id: ', h('code', { text: env.request_id })) : null);
}

export function renderMeta(data) {
  const m = data.metadata || {};
  const parts = [];
  if (data.planner) parts.push(`planner ${data.planner}`);
  if (data.family) parts.push(`analysis ${data.family}`);
  if (typeof data.execution_time_ms === 'number') parts.push(`ran in ${formatNumber(data.execution_time_ms)} ms`);
  if (Array.isArray(m.data_sources) && m.data_sources.length) parts.push(`data: ${m.data_sources.join(', ')}`);
  if (m.cache_hit) parts.push(`from the result cache${typeof m.cache_age_s === 'number' ? `, ${m.cache_age_s} s old` : ''}`);
  return parts.join(' · ');
}
