// The gateway's HTTP API as the page uses it: the token (sessionStorage,
// sent as Authorization: Bearer), the contract's envelopes, and /analyze's
// event stream.  Every failure becomes an ApiError carrying an envelope of
// the contract's shape, so the page renders all of them the same way.

import { readEvents } from './sse.js';

const TOKEN_KEY = 'qna.token';

// where sessionStorage is refused (a private window), the page's memory
let memoryToken = '';

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch {
    return memoryToken;
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused: the token lives for this page only
  }
  memoryToken = token || '';
}

const token = getToken;

export class ApiError extends Error {
  constructor(status, envelope, headers) {
    super(envelope.error.message);
    this.status = status;
    this.envelope = envelope;
    this.code = envelope.error.code;
    this.retryAfter = headers ? headers.get('Retry-After') : null;
  }
}

// an envelope of our own when the gateway did not answer with one
function madeUp(code, message, suggestions, details) {
  return {
    success: false,
    error: { code, message, details: details || {} },
    recovery_suggestions: suggestions,
    request_id: null,
    local: true,
  };
}

function networkError(err) {
  return new ApiError(0, madeUp('NETWORK_ERROR', `The gateway could not be reached (${err.message || err})`,
    ['Check that the gateway is running (make run) and reload the page']));
}

// a body that is not the contract's JSON (a proxy's error page, say)
async function envelopeOf(response) {
  const type = response.headers.get('Content-Type') || '';
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body was cut: nothing to read
  }
  if (type.includes('application/json')) {
    try {
      const j = JSON.parse(text);
      if (j && typeof j === 'object' && 'success' in j) return j;
    } catch {
      // fall through
    }
  }
  return madeUp(`HTTP_${response.status}`, `The gateway answered ${response.status} ${response.statusText} without the contract's JSON`,
    ['Try again; if it persists, look at the gateway\'s error log'], { body: text.slice(0, 300) });
}

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

// Listeners told of every 401 (to show the sign-in): fn(apiError)
const unauthorized = new Set();
export function onUnauthorized(fn) {
  unauthorized.add(fn);
}

function fail(status, envelope, hdrs) {
  const e = new ApiError(status, envelope, hdrs);
  if (status === 401) for (const fn of unauthorized) fn(e);
  return e;
}

// One request; resolves to the envelope's data (and request_id), rejects
// with an ApiError.
export async function call(method, path, body, opts = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw networkError(err);
  }
  const envelope = await envelopeOf(response);
  if (!response.ok || envelope.success !== true) {
    throw fail(response.status, envelope.success === false ? envelope
      : madeUp(`HTTP_${response.status}`, 'Unexpected answer', ['Try again']), response.headers);
  }
  return { data: envelope.data, requestId: envelope.request_id };
}

// POST /analyze as server-sent events.  handlers.event(name, data) for
// each event before the last; resolves to the final envelope's data;
// rejects with an ApiError (an error event, or an answer that was no
// stream: 400, 401, 429 come before the stream begins).
export async function analyzeStream(body, opts) {
  const extra = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (opts.noCache) extra['Cache-Control'] = 'no-cache';
  let response;
  try {
    response = await fetch('/analyze', {
      method: 'POST',
      headers: { ...headers(), ...extra },
      body: JSON.stringify(body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw networkError(err);
  }
  const type = response.headers.get('Content-Type') || '';
  if (!type.startsWith('text/event-stream')) {
    const envelope = await envelopeOf(response);
    if (response.ok && envelope.success === true) return { data: envelope.data, requestId: envelope.request_id };
    throw fail(response.status, envelope, response.headers);
  }
  let final = null;
  await readEvents(response, (name, data) => {
    if (name === 'result' || name === 'error') final = { name, data };
    opts.event(name, data);
  });
  if (!final) {
    throw new ApiError(0, madeUp('STREAM_ENDED', 'The event stream ended before the answer',
      ['Ask again; the gateway may have restarted']));
  }
  if (final.name === 'error' || final.data.success !== true) {
    const env = final.data && final.data.error ? final.data
      : madeUp('STREAM_ERROR', 'The stream ended in an error', ['Ask again']);
    const status = statusOf(env.error.code);
    throw fail(status, env, null);
  }
  return { data: final.data.data, requestId: final.data.request_id };
}

// the HTTP status the contract gives a code (the stream itself was 200)
const STATUS = {
  INVALID_REQUEST: 400, QUESTION_TOO_LONG: 400, UNAUTHORIZED: 401, FORBIDDEN: 403,
  NOT_FOUND: 404, CONFLICT: 409, RATE_LIMIT_EXCEEDED: 429, LLM_UNAVAILABLE: 502,
  LLM_TIMEOUT: 504, MCP_TOOL_ERROR: 502, DATA_UNAVAILABLE: 502, SANDBOX_UNAVAILABLE: 503,
  SANDBOX_BUSY: 503, STORE_UNAVAILABLE: 503, INTERNAL_ERROR: 500,
};
export function statusOf(code) {
  return STATUS[code] || 422;
}
