// Server-sent event streams, read with fetch rather than EventSource so
// that the page sees the answer's status (401: sign in again; 429: too
// many streams open) and decides itself when to reconnect. Every stream
// is closed while the tab is hidden and reopened when it is shown again:
// over HTTP/1.1 a browser has six connections per host for all its tabs,
// and a background tab that held one or two would starve the others.

/** streams are the page's open or paused streams, paused together. */
const streams = new Set();

let leaving = false;
/**
 * toLogin sends the user to the login page, which brings them back here.
 * The streams are paused, not stopped: a page the browser restores from
 * its back-forward cache (Back from the login page) reopens them, and is
 * sent to sign in again only if the server still refuses them.
 */
export function toLogin() {
  if (leaving) return;
  leaving = true;
  for (const s of [...streams]) s.pause();
  location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
}

/** signedOut reports whether an "end" event's reason says the sign-in no longer holds. */
export const signedOut = (reason) => /^signed out\b/.test(reason);

/** busyRetry is how long a stream refused with 429 waits before it asks again. */
const busyRetry = 30000;
/** maxBackoff bounds the wait before reconnecting a stream that keeps failing. */
const maxBackoff = 30000;

/**
 * LiveStream is one event stream. handlers: events ({name: (data, id)}),
 * open (), busy (detail: 429), failed (status, detail: any other refusal,
 * for good), end (reason: the server ended it, for good), state (name:
 * connecting, open, paused, reconnecting, busy, failed, ended). An "end"
 * whose reason says the user is signed out goes to the login page.
 */
export class LiveStream {
  constructor(url, handlers = {}) {
    this.url = url;
    this.h = handlers;
    this.lastId = '';
    this.retry = 2000;
    this.failures = 0;
    this.ctl = null;
    this.timer = null;
    this.ended = false;
  }

  /** start opens the stream now, or when the tab is shown if it is hidden. */
  start() {
    streams.add(this);
    if (document.visibilityState === 'hidden') this.set('paused');
    else this.connect();
    return this;
  }

  /** stop closes the stream for good. */
  stop() {
    this.ended = true;
    this.abort();
    streams.delete(this);
  }

  /** pause closes the connection, keeping where the stream was. */
  pause() {
    if (this.ended) return;
    this.abort();
    this.set('paused');
  }

  /** resume reopens a paused, waiting or refused stream now. */
  resume() {
    if (this.ended || this.ctl) return;
    this.abort();
    this.connect();
  }

  abort() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  set(state) {
    this.state = state;
    this.call('state', state);
  }

  call(name, ...args) {
    try { this.h[name]?.(...args); } catch (err) { console.error(err); }
  }

  async connect() {
    const ctl = new AbortController();
    this.ctl = ctl;
    this.set('connecting');
    const headers = { Accept: 'text/event-stream' };
    if (this.lastId !== '') headers['Last-Event-ID'] = this.lastId;
    let resp;
    try {
      resp = await fetch(this.url, { headers, credentials: 'same-origin', cache: 'no-store', signal: ctl.signal });
    } catch {
      if (this.ctl === ctl) this.later();
      return;
    }
    if (this.ctl !== ctl) { resp.body?.cancel().catch(() => {}); return; }
    if (!resp.ok) { await this.refused(resp, ctl); return; }
    if (!eventStream(resp)) { this.notAStream(resp); return; }
    this.failures = 0;
    this.set('open');
    this.call('open');
    try {
      await this.read(resp.body, ctl);
    } catch { /* the connection broke: reconnect below */ }
    if (this.ctl === ctl && !this.ended) this.later();
  }

  // refused handles an answer other than 2xx: 401 signs in again, 429 says
  // so and asks again only after busyRetry, 5xx retries with a back-off,
  // and any other ends the stream. The stream keeps ctl while the answer's
  // body is read, so a pause meanwhile (the tab hidden) aborts the read
  // and a resume (shown again) opens the one new connection: with ctl let
  // go first, the read went on, and once done its retry orphaned that
  // connection and opened another.
  async refused(resp, ctl) {
    const detail = await problemDetail(resp);
    if (this.ctl !== ctl) return; // paused, resumed or stopped meanwhile
    this.ctl = null;
    if (resp.status === 401) { toLogin(); return; }
    if (resp.status === 429) {
      this.set('busy');
      this.call('busy', detail);
      this.wait(busyRetry);
      return;
    }
    if (resp.status >= 500) { this.later(); return; }
    this.stop();
    this.set('failed');
    this.call('failed', resp.status, detail);
  }

  // notAStream ends the stream for good when a 2xx answer is no event
  // stream (a proxy's or a portal's sign-in page): as EventSource, which
  // fails such a connection and does not reconnect, where reading it
  // would find no event and ask again every 2s, for ever.
  notAStream(resp) {
    this.ctl = null;
    resp.body?.cancel().catch(() => {});
    const type = resp.headers.get('Content-Type') || 'no Content-Type';
    this.stop();
    this.set('failed');
    this.call('failed', resp.status, `the server answered with ${type}, not an event stream`);
  }

  // later reconnects after the server's retry delay, doubled for each
  // failure in a row (up to maxBackoff); a hidden tab waits to be shown.
  later() {
    this.ctl = null;
    this.failures++;
    this.set('reconnecting');
    this.wait(Math.min(maxBackoff, this.retry * 2 ** (this.failures - 1)));
  }

  wait(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (document.visibilityState === 'hidden') this.set('paused');
      else this.resume();
    }, ms);
  }

  // read parses the stream's events until it ends or is aborted.
  async read(body, ctl) {
    const reader = body.getReader();
    ctl.signal.addEventListener('abort', () => reader.cancel().catch(() => {}));
    const dec = new TextDecoder();
    let buf = '';
    let ev = newEvent();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.ctl !== ctl) return;
      buf += dec.decode(value, { stream: true });
      let start = 0;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n', start)) {
        const line = buf.slice(start, buf[i - 1] === '\r' ? i - 1 : i);
        start = i + 1;
        if (line !== '') { field(ev, line); continue; }
        this.dispatch(ev);
        ev = newEvent();
        if (this.ctl !== ctl) return;
      }
      buf = buf.slice(start);
    }
  }

  dispatch(ev) {
    if (ev.id !== null) this.lastId = ev.id;
    if (ev.retry !== null) this.retry = ev.retry;
    if (!ev.data.length) return;
    const data = ev.data.join('\n');
    if (ev.event !== 'end') {
      const fn = this.h.events?.[ev.event || 'message'];
      if (fn) try { fn(data, ev.id); } catch (err) { console.error(err); }
      return;
    }
    let reason = data;
    try { reason = JSON.parse(data); } catch { /* a bare text */ }
    if (signedOut(reason)) { this.pause(); toLogin(); return; }
    this.stop();
    this.set('ended');
    this.call('end', String(reason));
  }
}

const newEvent = () => ({ event: '', data: [], id: null, retry: null });

// field adds one "name: value" line of the stream to ev (a comment, ":…",
// is skipped).
function field(ev, line) {
  const colon = line.indexOf(':');
  if (colon === 0) return;
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (name === 'event') ev.event = value;
  else if (name === 'data') ev.data.push(value);
  else if (name === 'id' && !value.includes('\0')) ev.id = value;
  else if (name === 'retry' && /^\d+$/.test(value)) ev.retry = Number(value);
}

// eventStream reports whether an answer is an event stream (its media
// type text/event-stream, whatever its parameters).
const eventStream = (resp) =>
  (resp.headers.get('Content-Type') || '').split(';')[0].trim().toLowerCase() === 'text/event-stream';

// problemDetail is what a refusal's problem JSON (or text) says.
async function problemDetail(resp) {
  try {
    const text = await resp.text();
    try { const p = JSON.parse(text); return p.detail || p.title || `HTTP ${resp.status}`; } catch { return text || `HTTP ${resp.status}`; }
  } catch {
    return `HTTP ${resp.status}`;
  }
}

document.addEventListener('visibilitychange', () => {
  const hidden = document.visibilityState === 'hidden';
  for (const s of [...streams]) if (hidden) s.pause(); else s.resume();
});
// A page leaving (or entering the back-forward cache) closes its streams;
// one shown again from that cache reopens them, those paused on the way
// to the login page too (it is no longer leaving).
window.addEventListener('pagehide', () => { for (const s of [...streams]) s.pause(); });
window.addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  leaving = false;
  if (document.visibilityState !== 'hidden') for (const s of [...streams]) s.resume();
});
