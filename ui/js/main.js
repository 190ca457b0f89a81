// The page: ask (live progress from /analyze's event stream), the answer
// (rows, charts, explanation, highlighted Python, PARAMS as a form re-run
// through /execute), the history and traces, sign-in when the gateway
// says 401, and every error with its recovery suggestions.

import { $, h, clear, fill } from './dom.js';
import { call, analyzeStream, getToken, setToken, onUnauthorized, ApiError } from './api.js';
import { highlight } from './highlight.js';
import { renderResult, renderError, renderMeta } from './render.js';
import { buildParamFields, readParamFields } from './params.js';
import { renderHistory, renderTrace, traceLink } from './history.js';
import { formatNumber, shortId } from './format.js';
import * as store from './store.js';

const EXAMPLES = [
  'What is the current price of AAPL?',
  'What is the 30-day volatility of TSLA?',
  'What are the top 5 most volatile stocks today?',
  'What is the 50-day simple moving average of MSFT?',
  'Calculate the 20-day EMA for AMZN',
  'What is the 14-day RSI of NVDA?',
  'Show the MACD for AMD',
  'Bollinger bands for SPY over 20 days',
  'What is the average true range of GOOGL?',
  'What is the Sharpe ratio of QQQ over the last year?',
  'What was the maximum drawdown of TSLA over the past year?',
  'What is the 95% value at risk of SPY?',
  'Which stocks are most active today?',
];

const state = {
  user: null, // {user_id, role} from /users/me
  answer: null, // the last answer's data
  controller: null, // the question in flight
  retry: null, // what to do again once signed in
  planText: '', // the plan as the LLM streams it
  planAttempt: '', // whose attempt that text is
  planPieces: 0, // in how many events it came
};

const userName = () => (state.user && getToken() ? state.user.user_id : 'anonymous');

// --- who is asking -------------------------------------------------------

async function whoami() {
  try {
    const { data } = await call('GET', '/users/me');
    state.user = data;
  } catch (err) {
    // 401 shows the sign-in; anything else (no user store, say) leaves
    // the page as it is, who is asking unknown
    state.user = null;
    if (err instanceof ApiError && err.status !== 401) $('who').title = `/users/me: ${err.envelope.error.message}`;
  }
  showWho();
}

function showWho() {
  const signed = Boolean(getToken());
  $('sign-out').hidden = !signed;
  $('sign-in-open').hidden = signed;
  if (signed && state.user) $('who').textContent = `Signed in as ${state.user.user_id} (${state.user.role})`;
  else if (signed) $('who').textContent = 'Signed in';
  else if (state.user) $('who').textContent = `Anonymous (${state.user.role})`;
  else $('who').textContent = 'Not signed in';
  showSession();
}

function showSignIn(why) {
  const panel = $('sign-in');
  $('sign-in-why').textContent = why || 'Sign in with a token to use the gateway.';
  clear($('sign-in-error'));
  if (panel.hidden) {
    panel.hidden = false;
    $('token').value = '';
  }
  $('token').focus();
}

onUnauthorized((err) => {
  showSignIn(`The gateway needs a token: ${err.envelope.error.message}.`);
});

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  clear($('sign-in-error'));
  if (!token) {
    $('sign-in-error').append(h('p', { class: 'field-error', role: 'alert', text: 'Paste a token first.' }));
    $('token').focus();
    return;
  }
  setToken(token);
  try {
    const { data } = await call('GET', '/users/me');
    state.user = data;
  } catch (err) {
    setToken('');
    state.user = null;
    $('sign-in-error').append(renderError(err, { hint: 'That token was refused.' }));
    showWho();
    $('token').focus();
    return;
  }
  $('sign-in').hidden = true;
  $('token').value = '';
  showWho();
  const again = state.retry;
  state.retry = null;
  if (again) again();
  else $('question').focus();
  if (location.hash === '#history') openHistory();
}

function signOut() {
  setToken('');
  state.user = null;
  state.retry = null;
  showWho();
  whoami();
  $('sign-in-open').focus();
  if (location.hash === '#history') openHistory();
}

// --- the session ---------------------------------------------------------

function showSession() {
  const id = store.currentSession(userName());
  const line = $('session-line');
  clear(line);
  if (id) line.append('Continuing session ', h('code', { title: id, text: shortId(id) }));
  else line.append('A new session starts with the next question');
  $('new-session').hidden = !id;
}

function newSession() {
  store.setCurrentSession(userName(), '');
  showSession();
  $('question').focus();
}

// --- asking ---------------------------------------------------------------

function progress(kind, ...content) {
  const li = h('li', { class: `ev ev-${kind}`, dataset: { event: kind } }, content);
  $('progress').append(li);
  return li;
}

function busy(on) {
  $('busy').hidden = !on;
  $('stop').hidden = !on;
  $('ask').disabled = on;
  $('ask-form').setAttribute('aria-busy', String(on));
}

function onEvent(name, d) {
  if (name === 'accepted') {
    progress('accepted', 'Question accepted', h('span', { class: 'muted', text: ` (request ${shortId(d.request_id)})` }));
    if (d.session_id) {
      store.setCurrentSession(userName(), d.session_id);
      store.addSession(userName(), d.session_id, d.question);
    }
  } else if (name === 'plan') {
    // a new attempt (a correction after a failed script, or the next
    // provider of the chain) starts its own text
    const attempt = `${d.planner}/${d.correction || 0}`;
    if (attempt !== state.planAttempt) {
      state.planAttempt = attempt;
      state.planText = '';
      state.planPieces = 0;
      progress('plan', d.correction ? `The script failed: ${d.planner} corrects it (correction ${d.correction})…` : `Planning with ${d.planner}…`);
    }
    state.planText += d.text || '';
    state.planPieces += 1;
    $('plan-box').hidden = false;
    $('plan-text').textContent = state.planText;
    $('plan-text').dataset.pieces = String(state.planPieces);
  } else if (name === 'validated') {
    progress('validated', `Plan validated (planner ${d.planner}${d.family ? `, analysis ${d.family}` : ''}): `,
      h('span', { text: (d.mcp_calls || []).join(', ') || 'no tool' }));
    if (d.planner === 'builtin') {
      // the builtin planner streams nothing: its plan is shown whole
      $('plan-box').hidden = false;
      clear($('plan-text')).append(h('span', { class: 'plan-explanation', text: d.explanation || '' }), '\n\n', highlight(d.python_code || ''));
    }
  } else if (name === 'execution_started') {
    progress('execution_started', 'Running the script in the sandbox ', h('code', { text: shortId(d.execution_id) }));
  } else if (name === 'mcp_call') {
    progress('mcp_call', 'Tool call ', h('code', { class: 'tool', text: d.tool }), ` — ${formatNumber(d.duration_ms)} ms — `,
      d.ok ? h('span', { class: 'status status-success', text: 'ok' }) : h('span', { class: 'status status-failed', text: `failed${d.error ? `: ${d.error}` : ''}` }));
  } else if (name === 'result') {
    const data = d.data || {};
    progress('result', data.needs_confirmation ? 'The question needs confirming' : `Answer ready${data.metadata && data.metadata.cache_hit ? ' (from the result cache)' : ''}`);
  } else if (name === 'error') {
    progress('error', 'Failed: ', h('span', { class: 'error-code', text: d.error ? d.error.code : 'error' }));
  } else if (name === 'done') {
    progress('done', 'Done');
  }
}

async function ask(question) {
  question = (question || '').trim();
  if (!question) {
    clear($('ask-error')).append(h('p', { class: 'field-error', role: 'alert', text: 'Write a question first.' }));
    $('question').focus();
    return;
  }
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  state.planText = '';
  state.planAttempt = '';
  clear($('ask-error'));
  clear($('proposal'));
  clear($('progress'));
  clear($('plan-text'));
  $('plan-box').hidden = true;
  $('plan-box').open = true;
  $('progress-section').hidden = false;
  $('answer').hidden = true;
  busy(true);
  const body = { question };
  if ($('auto-expand').checked) body.auto_expand = true;
  const session = store.currentSession(userName());
  if (session) body.session_id = session;
  try {
    const { data } = await analyzeStream(body, { signal: controller.signal, noCache: $('no-cache').checked, event: onEvent });
    if (data.needs_confirmation) showProposal(data);
    else showAnswer(data);
  } catch (err) {
    if (err.name === 'AbortError') {
      progress('stopped', 'Stopped: the gateway cancels the question.');
    } else {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 401) state.retry = () => ask(question);
      if (err.code === 'NOT_FOUND' && session) {
        // the session is gone or someone else's: the next question starts anew
        store.setCurrentSession(userName(), '');
        showSession();
      }
      showAskError(err);
    }
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      busy(false);
    }
  }
}

function showAskError(err) {
  if (!$('progress').querySelector('[data-event="error"]')) progress('error', 'Failed: ', h('span', { class: 'error-code', text: err.code }));
  const hint = err.code === 'UNSUPPORTED_QUESTION' ? 'The builtin planner answers the questions of its catalogue: choose one below to ask it.'
    : err.status === 401 ? 'Sign in above; the question is asked again then.'
      : err.code === 'NOT_FOUND' ? 'The session may have expired or belong to someone else: the next question starts a new one.' : null;
  $('ask-error').append(renderError(err, {
    hint,
    suggest: err.code === 'UNSUPPORTED_QUESTION' ? (q) => { $('question').value = q; ask(q); } : null,
  }));
}

function showProposal(data) {
  store.setCurrentSession(userName(), data.session_id);
  showSession();
  const e = data.expansion;
  const box = $('proposal');
  const decide = async (accept) => {
    clear(box).append(h('p', { class: 'loading', text: accept ? 'Asking…' : 'Dropping…' }));
    try {
      const { data: d } = await call('POST', '/conversation/confirm', { expansion_id: e.expansion_id, accept });
      clear(box);
      if (accept) {
        progress('confirmed', `Confirmed: “${e.expanded}”`);
        showAnswer(d);
        $('answer-title').focus();
      } else {
        box.append(h('p', { text: 'Dropped: ask it again with its stock.' }));
        $('question').focus();
      }
    } catch (err) {
      clear(box).append(renderError(err));
    }
  };
  clear(box).append(h('div', { class: 'panel proposal', role: 'group', 'aria-labelledby': 'proposal-title' },
    h('h2', { id: 'proposal-title', text: 'Did you mean…' }),
    h('p', {}, '“', h('strong', { text: e.expanded }), `” (confidence ${formatNumber(e.confidence, 2)})`),
    data.confirmable === false ? h('p', { class: 'hint', text: 'This proposal can no longer be confirmed: ask it in full.' })
      : h('p', { class: 'row' },
        h('button', { type: 'button', id: 'proposal-yes', onclick: () => decide(true) }, 'Yes, ask it'),
        h('button', { type: 'button', class: 'secondary', onclick: () => decide(false) }, 'No'))));
}

function showAnswer(data) {
  state.answer = data;
  // the builtin planner's plan is the answer's script: folded away
  if (data.planner === 'builtin') $('plan-box').open = false;
  if (data.session_id) {
    store.setCurrentSession(userName(), data.session_id);
    store.addSession(userName(), data.session_id, data.question);
  }
  showSession();
  $('answer').hidden = false;
  $('answer-question').textContent = data.question || '';
  fill($('answer-meta'), renderMeta(data), data.execution_id ? [' · ', traceLink(data.execution_id)] : null);
  const ctx = data.context || {};
  const notes = [];
  if (ctx.follow_up && ctx.follow_up.previous_question) notes.push(`A follow-up of “${ctx.follow_up.previous_question}”.`);
  if (ctx.duplicate_of && ctx.duplicate_of.question) notes.push(`Asked before in this session: “${ctx.duplicate_of.question}”.`);
  if (Array.isArray(ctx.similar_previous_questions) && ctx.similar_previous_questions.length) {
    notes.push(`Related earlier questions: ${ctx.similar_previous_questions.map((x) => `“${x.question}”`).join(', ')}.`);
  }
  $('answer-context').hidden = !notes.length;
  $('answer-context').textContent = notes.join(' ');
  clear($('answer-rows')).append(renderResult(data.result));
  $('explanation').textContent = data.explanation || '';
  showScript(data.python_code || '');
  $('script-editor').value = data.python_code || '';
  setEditing(false);
  fill($('params-fields'), buildParamFields(data.params));
  if (!Object.keys(data.params || {}).length) $('params-fields').append(h('p', { class: 'hint', text: 'The answer names no parameters: the script runs again as it is.' }));
  $('rerun-out').hidden = true;
  clear($('rerun-body'));
}

function showScript(code) {
  clear($('code')).append(highlight(code));
}

function setEditing(on) {
  $('edit-script').setAttribute('aria-pressed', String(on));
  $('edit-script').textContent = on ? 'Show the highlighted script' : 'Edit the script';
  $('script-box').hidden = !on;
  $('code').hidden = on;
  if (!on) showScript($('script-editor').value);
}

// --- re-run through /execute -------------------------------------------------

async function rerun(event) {
  event.preventDefault();
  if (!state.answer) return;
  const read = readParamFields($('params-fields'));
  if (read.errors) {
    read.errors[0].input.focus();
    return;
  }
  const script = $('script-box').hidden ? state.answer.python_code : $('script-editor').value;
  const out = $('rerun-out');
  const body = $('rerun-body');
  out.hidden = false;
  out.setAttribute('aria-busy', 'true');
  clear(body).append(h('p', { class: 'loading', text: 'Running…' }));
  $('rerun').disabled = true;
  try {
    const { data } = await call('POST', '/execute', { script, params: read.params });
    store.addRun(userName(), { execution_id: data.execution_id, session_id: state.answer.session_id, params: read.params, question: state.answer.question });
    fill(body,
      h('p', { class: 'muted' }, `With ${JSON.stringify(data.params || read.params)} · ran in ${formatNumber(data.execution_time_ms)} ms · `, traceLink(data.execution_id)),
      renderResult(data.result, { caption: 'Re-run' }),
      data.stdout ? [h('h4', { text: `Printed${data.stdout_truncated ? ' (cut at 1 MiB)' : ''}` }), h('pre', { class: 'stdout', tabindex: '0', text: data.stdout })] : null);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) state.retry = () => $('params-form').requestSubmit();
    const hint = err.status === 403 && err.code === 'FORBIDDEN'
      ? `Running a script through /execute takes a ${err.envelope.error.details.required_role || 'manager'}'s role: you are ${err.envelope.error.details.role ? `a ${err.envelope.error.details.role}` : 'not allowed'}. Sign in with a token that has that role.`
      : null;
    clear(body).append(renderError(err, {
      hint,
      actions: err.status === 403 ? h('p', {}, h('button', { type: 'button', onclick: () => { state.retry = () => $('params-form').requestSubmit(); showSignIn('Sign in with a manager\'s token to run scripts.'); } }, 'Sign in with another token')) : null,
    }));
  } finally {
    out.setAttribute('aria-busy', 'false');
    $('rerun').disabled = false;
  }
  $('rerun-title').focus();
}

// --- views ------------------------------------------------------------------

async function openHistory() {
  const ctx = {
    user: state.user,
    signedIn: Boolean(getToken()),
    onContinue: (id) => {
      store.setCurrentSession(userName(), id);
      location.hash = '#ask';
      showSession();
    },
  };
  const root = $('history');
  root.setAttribute('aria-busy', 'true');
  await renderHistory(root, ctx);
  root.setAttribute('aria-busy', 'false');
}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const views = { ask: $('view-ask'), history: $('view-history'), trace: $('view-trace') };
  let view = 'ask';
  if (hash === 'history') view = 'history';
  else if (hash.startsWith('execution/')) view = 'trace';
  for (const [k, el] of Object.entries(views)) el.hidden = k !== view;
  for (const [link, current] of [['nav-ask', view === 'ask'], ['nav-history', view !== 'ask']]) {
    if (current) $(link).setAttribute('aria-current', 'page');
    else $(link).removeAttribute('aria-current');
  }
  if (view === 'history') {
    openHistory();
    $('history-title').focus();
  } else if (view === 'trace') {
    const id = hash.slice('execution/'.length);
    $('trace-title').textContent = `Execution ${id}`;
    renderTrace($('trace'), id);
    $('trace-title').focus();
  } else if (routed) {
    $(focusAfterRoute || 'ask-title').focus();
  }
  focusAfterRoute = null;
  routed = true;
}
let routed = false;
let focusAfterRoute = null;

// --- start -----------------------------------------------------------------

function start() {
  fill($('examples'), EXAMPLES.map((q) => h('li', {},
    h('button', { type: 'button', class: 'link', onclick: () => { $('question').value = q; $('question').focus(); } }, q))));
  // the skip link focuses the question, wherever the page is
  document.querySelector('.skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    if (location.hash && location.hash !== '#ask') {
      focusAfterRoute = 'question';
      location.hash = '#ask';
    } else {
      $('question').focus();
    }
  });
  $('ask-form').addEventListener('submit', (e) => {
    e.preventDefault();
    ask($('question').value);
  });
  $('stop').addEventListener('click', () => {
    if (state.controller) state.controller.abort();
    $('question').focus();
  });
  $('new-session').addEventListener('click', newSession);
  $('edit-script').addEventListener('click', () => {
    const on = $('edit-script').getAttribute('aria-pressed') !== 'true';
    setEditing(on);
    if (on) $('script-editor').focus();
  });
  $('params-form').addEventListener('submit', rerun);
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-in-open').addEventListener('click', () => showSignIn('Paste a token to act as its user and role.'));
  $('sign-in-cancel').addEventListener('click', () => {
    $('sign-in').hidden = true;
    state.retry = null;
    $('sign-in-open').focus();
  });
  $('sign-out').addEventListener('click', signOut);
  $('history-refresh').addEventListener('click', openHistory);
  window.addEventListener('hashchange', route);
  route();
  showWho();
  whoami();
  document.documentElement.dataset.ready = '1';
}

start();
