// What this browser remembers (localStorage): the sessions it started and
// the re-runs it made, per user, newest first.  Anonymous callers cannot
// list sessions or executions on the gateway: this is their history.

const KEY = 'qna.history.v1';
const MAX = 100;

function load() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || '{}');
    return { sessions: Array.isArray(v.sessions) ? v.sessions : [], runs: Array.isArray(v.runs) ? v.runs : [] };
  } catch {
    return { sessions: [], runs: [] };
  }
}

function save(v) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ sessions: v.sessions.slice(0, MAX), runs: v.runs.slice(0, MAX) }));
  } catch {
    // storage full or refused: the history is this page's only
  }
}

export function addSession(user, id, title) {
  const v = load();
  const old = v.sessions.find((x) => x.id === id && x.user === user);
  v.sessions = v.sessions.filter((x) => !(x.id === id && x.user === user));
  v.sessions.unshift({ id, user, title: (old && old.title) || title, started_at: (old && old.started_at) || new Date().toISOString() });
  save(v);
}

export function addRun(user, run) {
  const v = load();
  v.runs.unshift({ ...run, user, at: new Date().toISOString() });
  save(v);
}

export function sessionsOf(user) {
  return load().sessions.filter((x) => x.user === user);
}

export function runsOf(user, sessionId) {
  return load().runs.filter((x) => x.user === user && (sessionId === undefined || x.session_id === sessionId));
}

// the session the next question continues, one per user (another
// user's session is 404 to them)
const CURRENT = 'qna.session.';

export function currentSession(user) {
  try {
    return localStorage.getItem(CURRENT + user) || '';
  } catch {
    return '';
  }
}

export function setCurrentSession(user, id) {
  try {
    if (id) localStorage.setItem(CURRENT + user, id);
    else localStorage.removeItem(CURRENT + user);
  } catch {
    // not kept: the page still knows it
  }
}
