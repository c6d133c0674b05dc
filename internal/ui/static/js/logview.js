// The task page's log view: one try's log streamed into a <pre> from its
// last MiB (the server skips the head of a bigger log and says so with an
// "earlier" event), the head on demand, and never more than maxKept bytes
// in the page: a log that keeps growing loses its oldest lines, and a
// notice says how much is not shown and links the whole text.
import { busyText, el } from './common.js';
import { LiveStream } from './stream.js';

/** tailBytes is how much of a log's end the page asks for first. */
export const tailBytes = 1 << 20;
/** maxKept bounds the log text a page holds, in bytes of the file. */
export const maxKept = 5 << 20;

const fmtBytes = (n) => `${n.toLocaleString('en')} bytes`;

/**
 * LogView streams one try at a time into box. parts: box (the <pre>),
 * status (a line saying what the stream does), earlier (where the notice
 * of the lines not shown goes), url (try, query) -> the stream's address,
 * textHref (try) -> the whole log as text.
 */
export class LogView {
  constructor(parts) {
    this.p = parts;
    this.stream = null;
  }

  /** open shows try n: its last MiB, or (whole) all of it. */
  open(n, whole = false) {
    this.stream?.stop();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.pending = []; // {text, end} received, not yet shown
    this.try = n;
    this.chunks = []; // {node, start, end}: shown, with their byte offsets in the file
    this.first = this.last = 0; // where the text shown starts and ends
    this.p.box.replaceChildren();
    this.notice();
    this.setState('loading', 'Loading the log…');
    const query = whole ? 'from=0' : `tail_bytes=${tailBytes}`;
    this.stream = new LiveStream(this.p.url(n, query), {
      events: { earlier: (d) => this.earlier(JSON.parse(d)), lines: (d, id) => this.lines(JSON.parse(d), Number(id)) },
      end: (reason) => this.end(reason),
      busy: (detail) => this.setState('busy', busyText('The log is not shown live', detail)),
      failed: (status, detail) => this.setState('error', `The log could not be loaded: ${detail}`),
      state: (s) => { this.p.box.dataset.stream = s; },
    }).start();
  }

  setState(state, text) {
    this.p.box.dataset.state = state;
    this.p.status.textContent = text;
  }

  // earlier: the server starts at byte bytes, a line's start.
  earlier({ bytes }) {
    if (this.chunks.length || this.pending.length) return; // a reconnect said it again
    this.first = this.last = bytes;
    this.notice();
  }

  // lines takes text, which ends at byte end of the file; it is shown at
  // the next frame, with what else came by then. It starts where the
  // previous event ended (or at the "earlier" offset, or at 0 after a
  // truncation): its length in the page is no measure of its bytes in the
  // file, as bytes that are not UTF-8 arrive as U+FFFD.
  lines(text, end) {
    if (end < this.last || (end === 0 && text)) { // the file was truncated: the server starts again at 0
      this.p.box.replaceChildren();
      this.chunks = [];
      this.pending = [];
      this.first = this.last = 0;
    }
    const start = this.last;
    this.last = end;
    if (text) this.pending.push({ text, start, end });
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  // flush shows the text received since the last frame, each event's in a
  // block of its own (chunks end at a line's end) that the browser lays
  // out only when it is scrolled into view, drops what is over maxKept,
  // and keeps a log scrolled to its end there.
  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const box = this.p.box;
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    const add = document.createDocumentFragment();
    for (const { text, start, end } of this.pending) {
      const node = el('span', { class: 'chunk', 'data-start': start, 'data-end': end }, text);
      add.append(node);
      this.chunks.push({ node, start, end });
    }
    this.pending = [];
    box.append(add);
    this.trim();
    if (atEnd) box.scrollTop = box.scrollHeight;
    this.notice();
    if (box.dataset.state !== 'live') this.setState('live', 'Live: new lines appear as the task writes them.');
  }

  // trim drops the oldest chunks while the page holds more than maxKept.
  trim() {
    while (this.chunks.length > 1 && this.last - this.first > maxKept) {
      const c = this.chunks.shift();
      c.node.remove();
      this.first = this.chunks[0].start;
    }
  }

  // notice says how much of the log's head is not shown: a button brings
  // it when the whole log fits in the page, a link opens it as text.
  notice() {
    const node = this.p.earlier;
    const skipped = this.first;
    node.hidden = skipped <= 0;
    if (skipped <= 0) { node.replaceChildren(); return; }
    const fits = this.last <= maxKept;
    const parts = [`[…] The log's first ${fmtBytes(skipped)} are not shown${fits ? '' : ' (the page keeps a log\'s last 5 MiB)'}. `];
    if (fits) {
      parts.push(el('button', { type: 'button', class: 'secondary small', id: 'log-show-earlier',
        onclick: () => this.open(this.try, true) }, `Show earlier (${fmtBytes(skipped)})`), ' ');
    }
    parts.push(el('a', { href: this.p.textHref(this.try), target: '_blank', rel: 'noopener', id: 'log-whole' }, 'Open the whole log as text'));
    node.replaceChildren(...parts);
  }

  // end: the server ended the stream (the try is over, or the log cannot be read).
  end(reason) {
    this.flush();
    if (/^the log could not be read/.test(reason)) this.setState('error', `The log stopped: ${reason}.`);
    else this.setState('complete', `Complete: ${reason}.`);
  }
}
