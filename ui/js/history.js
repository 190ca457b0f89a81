// The History view: the sessions (the gateway's list for a signed-in
// caller, this browser's own for an anonymous one), each session's turns
// and executions, and one execution's trace.

import { h, clear } from './dom.js';
import { call } from './api.js';
import { formatTime, formatNumber, shortId } from './format.js';
import { highlight } from './highlight.js';
import { renderResult, renderError } from './render.js';
import * as store from './store.js';

// ctx: {user: {user_id, role}, signedIn, onContinue(id), onError(err, where)}
// a render still waiting for the gateway when a newer one began is dropped
function begin(root) {
  const gen = String(Number(root.dataset.gen || 0) + 1);
  root.dataset.gen = gen;
  return () => root.dataset.gen === gen;
}

export async function renderHistory(root, ctx) {
  const current = begin(root);
  clear(root);
  const user = ctx.user ? ctx.user.user_id : 'anonymous';
  const local = store.sessionsOf(user);
  let sessions = local.map((x) => ({ session_id: x.id, title: x.title, created_at: x.started_at, local: true }));
  const notes = [];
  if (ctx.signedIn) {
    try {
      const { data } = await call('GET', '/conversation/sessions?per_page=100');
      if (!current()) return;
      const known = new Set(data.sessions.map((x) => x.session_id));
      sessions = [...data.sessions, ...sessions.filter((x) => !known.has(x.session_id))];
      if (data.source === 'history') notes.push('Redis is away: these sessions come from PostgreSQL\'s history.');
    } catch (err) {
      if (!current()) return;
      root.append(renderError(err, { hint: 'The gateway\'s list of your sessions could not be read; this browser\'s own list follows.' }));
    }
  } else {
    notes.push('Anonymous callers cannot list every session on the gateway (they all share one name): these are the sessions this browser started.');
  }

  root.append(h('section', { 'aria-labelledby': 'sessions-title', class: 'history-block' },
    h('h2', { id: 'sessions-title', text: `Sessions (${sessions.length})` }),
    notes.map((n) => h('p', { class: 'hint', text: n })),
    sessions.length
      ? h('ul', { class: 'sessions', id: 'session-list' }, sessions.map((x) => sessionItem(x, ctx, user)))
      : h('p', { text: 'No session yet: ask a question first.' })));

  // executions: all of a signed-in caller's; an anonymous one's re-runs
  // (they belong to no session) as this browser remembers them
  if (ctx.signedIn) {
    const block = h('section', { 'aria-labelledby': 'all-exec-title', class: 'history-block' },
      h('h2', { id: 'all-exec-title', text: 'All my executions' }));
    root.append(block);
    await executionsPage(block, 1);
  } else {
    const runs = store.runsOf(user);
    root.append(h('section', { 'aria-labelledby': 'runs-title', class: 'history-block' },
      h('h2', { id: 'runs-title', text: `Re-runs from this browser (${runs.length})` }),
      runs.length ? runsTable(runs) : h('p', { text: 'No re-run yet.' })));
  }
}

async function executionsPage(block, page) {
  const box = h('div', { class: 'exec-page' });
  block.querySelectorAll('.exec-page').forEach((n) => n.remove());
  block.append(box);
  try {
    const { data } = await call('GET', `/executions?page=${page}`);
    box.append(executionsTable(data.executions, `Executions, page ${data.page}`));
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    if (pages > 1) {
      box.append(h('p', { class: 'pager' },
        page > 1 ? h('button', { type: 'button', onclick: () => executionsPage(block, page - 1) }, 'Previous page') : null,
        ` Page ${page} of ${pages} `,
        page < pages ? h('button', { type: 'button', onclick: () => executionsPage(block, page + 1) }, 'Next page') : null));
    }
  } catch (err) {
    box.append(renderError(err));
  }
}

function sessionItem(x, ctx, user) {
  const body = h('div', { class: 'session-body', id: `session-${x.session_id}`, hidden: true });
  const toggle = h('button', {
    type: 'button', class: 'disclosure', 'aria-expanded': 'false', 'aria-controls': body.id,
    dataset: { session: x.session_id },
  }, h('span', { class: 'session-title', text: x.title || '(untitled)' }), ' ', h('span', { class: 'muted', text: `${x.turns !== undefined ? `${x.turns} turns · ` : ''}${shortId(x.session_id)}` }));
  toggle.addEventListener('click', async () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
    if (open && !body.dataset.loaded) {
      body.dataset.loaded = '1';
      body.append(h('p', { class: 'loading', text: 'Loading…' }));
      await loadSession(body, x, user);
    }
  });
  return h('li', { class: 'session', dataset: { session: x.session_id } },
    h('div', { class: 'session-head' }, toggle,
      h('button', { type: 'button', class: 'secondary', onclick: () => ctx.onContinue(x.session_id, x.title) }, 'Continue this session')),
    body);
}

async function loadSession(body, x, user) {
  const [conv, execs] = await Promise.allSettled([
    call('GET', `/conversation/${encodeURIComponent(x.session_id)}`),
    call('GET', `/executions?session_id=${encodeURIComponent(x.session_id)}`),
  ]);
  clear(body);
  body.append(h('h3', { text: 'Turns' }));
  if (conv.status === 'fulfilled') {
    const d = conv.value.data;
    if (d.source === 'history') body.append(h('p', { class: 'hint', text: 'Past Redis\'s 7 days: from PostgreSQL\'s history.' }));
    const msgs = (d.context && d.context.messages) || [];
    body.append(msgs.length ? h('ol', { class: 'turns' }, msgs.map((m) => h('li', { class: `turn turn-${m.role}` },
      h('span', { class: 'turn-role', text: m.role === 'user' ? 'Question' : m.role === 'assistant' ? 'Answer' : m.role }),
      ' ', h('span', { class: 'turn-content', text: m.content }),
      ' ', h('span', { class: 'muted', text: formatTime(m.created_at) }),
      m.execution_id && m.role === 'assistant' ? [' ', traceLink(m.execution_id)] : null))) : h('p', { text: 'No turn.' }));
  } else {
    body.append(renderError(conv.reason, { hint: conv.reason.status === 404 ? 'This session is not yours, or it is gone.' : null }));
  }
  body.append(h('h3', { text: 'Executions' }));
  if (execs.status === 'fulfilled') {
    const list = execs.value.data.executions;
    body.append(list.length ? executionsTable(list, `Executions of session ${shortId(x.session_id)}`) : h('p', { text: 'None recorded (yet).' }));
  } else {
    body.append(renderError(execs.reason));
  }
  const runs = store.runsOf(user, x.session_id);
  if (runs.length) {
    body.append(h('h3', { text: 'Re-runs of its scripts' }), runsTable(runs));
  }
}

export function traceLink(id) {
  return h('a', { href: `#execution/${encodeURIComponent(id)}`, class: 'trace-link', dataset: { execution: id } },
    'Trace', h('span', { class: 'visually-hidden', text: ` of ${id}` }));
}

function executionsTable(list, caption) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'executions' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, ['Execution', 'Kind', 'Status', 'Question', 'Planner', 'Time', 'Created'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, list.map((e) => h('tr', { dataset: { execution: e.execution_id } },
      h('th', { scope: 'row' }, traceLink(e.execution_id), ' ', h('code', { text: shortId(e.execution_id) })),
      h('td', { text: e.kind || '' }),
      h('td', {}, h('span', { class: `status status-${e.status}`, text: e.status })),
      h('td', { text: e.question || '—' }),
      h('td', { text: e.planner || '—' }),
      h('td', { class: 'num', text: typeof e.execution_ms === 'number' ? `${formatNumber(e.execution_ms)} ms` : '—' }),
      h('td', { text: formatTime(e.created_at) }))))));
}

function runsTable(runs) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'executions runs' },
    h('caption', { text: 'Re-runs' }),
    h('thead', {}, h('tr', {}, ['Execution', 'Parameters', 'When'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, runs.map((r) => h('tr', { dataset: { execution: r.execution_id } },
      h('th', { scope: 'row' }, traceLink(r.execution_id), ' ', h('code', { text: shortId(r.execution_id) })),
      h('td', {}, h('code', { text: JSON.stringify(r.params || {}) })),
      h('td', { text: formatTime(r.at) }))))));
}

// GET /executions/{id}: the whole trace
export async function renderTrace(root, id) {
  const current = begin(root);
  clear(root);
  root.append(h('p', { class: 'loading', text: `Loading ${id}…` }));
  let t;
  try {
    ({ data: t } = await call('GET', `/executions/${encodeURIComponent(id)}`));
  } catch (err) {
    if (!current()) return false;
    clear(root);
    root.append(renderError(err, { hint: err.status === 404 ? 'No such execution of yours (it may not be recorded yet: try again in a moment).' : null }));
    return false;
  }
  if (!current()) return false;
  clear(root);
  const facts = [
    ['Execution', h('code', { text: t.execution_id })],
    ['Kind', t.kind], ['Status', h('span', { class: `status status-${t.status}`, text: t.status })],
    ['User', t.user_id], ['Session', t.session_id ? h('code', { text: t.session_id }) : '—'],
    ['Question', t.question || '—'], ['Planner', t.planner || '—'],
    ['Execution time', typeof t.execution_ms === 'number' ? `${formatNumber(t.execution_ms)} ms` : '—'],
    ['Created', formatTime(t.created_at)], ['Started', formatTime(t.started_at)], ['Finished', formatTime(t.finished_at)],
  ];
  root.append(h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])));
  if (t.params && Object.keys(t.params).length) {
    root.append(h('h2', { text: 'Parameters' }), h('pre', { class: 'json', text: JSON.stringify(t.params, null, 2) }));
  }
  if (t.script) {
    root.append(h('h2', { text: 'Script' }),
      h('pre', { class: 'code', tabindex: '0', 'aria-label': 'The execution\'s Python script' }, highlight(t.script)));
  }
  const calls = Array.isArray(t.mcp_calls) ? t.mcp_calls : [];
  root.append(h('h2', { text: `Tool calls (${calls.length})` }));
  root.append(calls.length ? h('div', { class: 'table-scroll' }, h('table', { class: 'calls' },
    h('caption', { text: 'Tool calls, in order' }),
    h('thead', {}, h('tr', {}, ['#', 'Tool', 'Arguments', 'Duration', 'Outcome'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, calls.map((c, n) => h('tr', { dataset: { tool: c.tool } },
      h('td', { class: 'num', text: String(n + 1) }),
      h('th', { scope: 'row' }, h('code', { text: c.tool })),
      h('td', {}, h('code', { class: 'args', text: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments || {}) })),
      h('td', { class: 'num', text: `${formatNumber(c.duration_ms)} ms` }),
      h('td', {}, c.ok ? h('span', { class: 'status status-success', text: 'ok' }) : h('span', { class: 'status status-failed', text: `failed${c.error ? `: ${c.error}` : ''}` }))))))) : h('p', { text: 'No tool call.' }));
  if (t.result) {
    root.append(h('h2', { text: 'Result' }), renderResult(t.result));
  }
  if (t.error) {
    const env = t.error.error ? t.error : { error: { code: t.error.code || 'ERROR', message: t.error.message || JSON.stringify(t.error), details: t.error.details || {} }, recovery_suggestions: t.error.recovery_suggestions || [] };
    root.append(h('h2', { text: 'Error' }), renderError(env));
  }
  if (t.trace && typeof t.trace === 'object') {
    root.append(h('h2', { text: 'Planning and cache' }), h('pre', { class: 'json', text: JSON.stringify(t.trace, null, 2) }));
  }
  const audit = Array.isArray(t.audit) ? t.audit : [];
  root.append(h('h2', { text: `Audit events (${audit.length})` }));
  root.append(h('div', { class: 'table-scroll' }, h('table', { class: 'audit' },
    h('caption', { text: 'Audit trail' }),
    h('thead', {}, h('tr', {}, ['Event', 'At', 'Client', 'User agent'].map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, audit.map((a) => h('tr', { dataset: { event: a.event } },
      h('th', { scope: 'row', text: a.event }),
      h('td', { text: formatTime(a.at) }),
      h('td', { text: a.client_addr || '—' }),
      h('td', { text: a.user_agent || '—' })))))));
  return true;
}
