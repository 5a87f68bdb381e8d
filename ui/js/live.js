// Fenghuo console — one shared server-sent-events stream (fetch streaming, so the
// Authorization header can be sent), parsed here and fanned out to subscribers.
// Events from the server: alert, incident, stats, heartbeat. Local pseudo-event: `status`
// with {state: 'connecting'|'open'|'closed'|'unavailable', retryIn?} for a live indicator.
import { session } from './api.js';

const STREAM = '/api/v1/stream';
const subs = new Map(); // type → Set<fn>
let controller = null;
let running = false;
let backoff = 1000;
let lastEventId = null;
let retryTimer = null;
let state = 'closed';

function emit(type, data) {
  const set = subs.get(type);
  if (!set) return;
  for (const fn of [...set]) { try { fn(data, type); } catch (e) { console.error(e); } }
}

function setState(s, extra = {}) {
  state = s;
  emit('status', { state: s, ...extra });
}

export function streamState() { return state; }

function dispatchFrame(frame) {
  let event = 'message';
  const data = [];
  let id = null;
  for (const line of frame.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) backoff = Math.max(500, Number(value));
  }
  if (id !== null) lastEventId = id;
  if (!data.length) return;
  const text = data.join('\n');
  let payload = text;
  try { payload = JSON.parse(text); } catch { /* plain text */ }
  emit(event, payload);
}

async function connect() {
  const s = session();
  if (!s || !s.key) { running = false; setState('closed'); return; }
  controller = new AbortController();
  setState('connecting');
  const headers = { Authorization: `Bearer ${s.key}`, Accept: 'text/event-stream' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  try {
    const res = await fetch(STREAM, { headers, signal: controller.signal, cache: 'no-store' });
    if (res.ok && !/text\/event-stream/.test(res.headers.get('Content-Type') || '')) {
      if (res.body) res.body.cancel().catch(() => {});
      setState('unavailable', { status: res.status });
      return scheduleRetry(30000);
    }
    if (!res.ok || !res.body) {
      // 404 before the endpoint exists, 401/403 for a role without it: retry slowly.
      const fatal = res.status === 401;
      setState('unavailable', { status: res.status });
      if (fatal) { running = false; return; }
      return scheduleRetry(res.status === 404 || res.status === 403 ? 30000 : null);
    }
    backoff = 1000;
    setState('open');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        dispatchFrame(frame);
      }
    }
    scheduleRetry();
  } catch (e) {
    if (e.name === 'AbortError') return;
    scheduleRetry();
  }
}

function scheduleRetry(fixed = null) {
  if (!running) return;
  const wait = fixed || Math.min(backoff, 30000) * (0.8 + Math.random() * 0.4);
  backoff = Math.min(backoff * 2, 30000);
  setState('closed', { retryIn: Math.round(wait) });
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => { if (running) connect(); }, wait);
}

function start() {
  if (running) return;
  running = true;
  connect();
}

/** Stop the stream (logout) — subscribers are kept; restart() reconnects. */
export function stop() {
  running = false;
  clearTimeout(retryTimer);
  if (controller) controller.abort();
  controller = null;
  setState('closed');
}

/** Reconnect now (after login). */
export function restart() {
  stop();
  backoff = 1000;
  lastEventId = null;
  if ([...subs.values()].some((s) => s.size)) start();
}

/** subscribe('alert', fn) → unsubscribe. fn(data, type). Starts the shared stream on first use. */
export function subscribe(type, fn) {
  if (!subs.has(type)) subs.set(type, new Set());
  subs.get(type).add(fn);
  if (type !== 'status') start();
  return () => { const s = subs.get(type); if (s) s.delete(fn); };
}

window.addEventListener('fenghuo:session', (e) => { if (e.detail) restart(); else stop(); });
