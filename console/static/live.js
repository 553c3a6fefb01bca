// The live feed: GET /api/events/stream read with fetch, because
// EventSource cannot send the Authorization header and the key must never
// go into a URL. The Server-Sent Events are parsed here; after a dropped
// connection it reconnects with Last-Event-ID, so no event is missed or
// seen twice.

import { session } from './api.js';

const listeners = new Set();
let controller = null;
let lastId = null;
let state = 'off';
const stateListeners = new Set();

/** on calls f(event) for every event of the feed; returns an unsubscribe. */
export function on(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** onState calls f('connecting' | 'live' | 'off') when the connection changes. */
export function onState(f) {
  stateListeners.add(f);
  f(state);
  return () => stateListeners.delete(f);
}

function setState(s) {
  state = s;
  stateListeners.forEach((f) => f(s));
}

/** start opens the stream (once) for the signed-in key. */
export function start() {
  if (controller) return;
  controller = new AbortController();
  run(controller.signal);
}

/** stop closes the stream (on sign-out). */
export function stop() {
  controller?.abort();
  controller = null;
  lastId = null;
  setState('off');
}

async function run(signal) {
  let retry = 2000;
  while (!signal.aborted) {
    const key = session()?.key;
    if (!key) break;
    setState('connecting');
    try {
      const headers = { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' };
      if (lastId !== null) headers['Last-Event-ID'] = lastId;
      const res = await fetch('/api/events/stream', { headers, signal, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) break; // this key may not follow the feed
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      setState('live');
      retry = await read(res.body, signal, retry);
    } catch (err) {
      if (signal.aborted) break;
    }
    if (signal.aborted) break;
    setState('connecting');
    await new Promise((r) => setTimeout(r, retry));
  }
  if (!signal.aborted) setState('off');
}

// read parses messages until the body ends; returns the retry delay the
// server asked for.
async function read(body, signal, retry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return retry;
      buf += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        retry = dispatch(block, retry);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function dispatch(block, retry) {
  let id = null; let type = 'message'; const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue; // a comment: keepalive
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'id') id = value;
    else if (name === 'event') type = value;
    else if (name === 'data') data.push(value);
    else if (name === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  if (id !== null) lastId = id;
  if (data.length === 0) return retry;
  let event;
  try { event = JSON.parse(data.join('\n')); } catch { return retry; }
  event.type ??= type;
  listeners.forEach((f) => { try { f(event); } catch (err) { console.error('live listener failed', err); } });
  return retry;
}
