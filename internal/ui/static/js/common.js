// Shared helpers of the UI's pages: the API client (with the CSRF header),
// who the user is, DOM building, the confirm dialog, live updates.
import { LiveStream, toLogin } from './stream.js';

export const enc = encodeURIComponent;

/** ApiError is a non-2xx answer: its problem JSON's status, detail and field. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.field = problem.field || '';
    this.problem = problem;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/**
 * signInAgain reports whether a 401 from path means the session is gone:
 * any /ui/api/ call, any /api/v1/ call but those of /api/v1/auth/ (whose
 * 401s their callers handle: an anonymous server, a wrong password).
 */
const signInAgain = (path) => path.startsWith('/ui/api/') || (path.startsWith('/api/v1/') && !path.startsWith('/api/v1/auth/'));

/** api calls the REST API (or a /ui/api endpoint) and returns its JSON; a 401 goes to the login page. */
export async function api(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const csrf = cookie('sirocco_csrf');
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const resp = await fetch(path, { method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && signInAgain(path)) {
    toLogin();
    throw new ApiError(401, { detail: 'Please log in.' });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!resp.ok) throw new ApiError(resp.status, data || {});
  return data;
}

const ranks = { Viewer: 0, User: 1, Op: 2, Admin: 3 };
/** needs lists the least role each action takes (the server enforces it). */
export const needs = { trigger: 'User', clear: 'User', mark: 'User', pause: 'User', deleteRun: 'User',
  connections: 'Op', variables: 'Op', pools: 'Op', users: 'Admin', audit: 'Admin' };

let mePromise;
/** me is who the user is: /api/v1/auth/me, or an anonymous Admin when the server has no auth (404). */
export function me() {
  mePromise ??= api('/api/v1/auth/me').catch((err) => {
    if (err.status === 404) return { username: 'anonymous', role: 'Admin', auth: 'none' };
    throw err;
  });
  return mePromise;
}

/** can reports whether role may do action. */
export function can(role, action) {
  return atLeast(role, needs[action]);
}

/** atLeast reports whether role ranks at least as high as least. */
export const atLeast = (role, least) => (ranks[role] ?? -1) >= (ranks[least] ?? 99);

/**
 * pageNeeds lists the least role that may open each admin page: what
 * reading its collection takes (x-sirocco-role of its GET in the API's
 * OpenAPI document). The nav shows a role only the pages it may open.
 */
export const pageNeeds = { connections: 'Op', variables: 'Op', pools: 'Viewer', users: 'Admin', audit: 'Admin' };

/**
 * refusal says once that role may not do something: "Your role (Viewer)
 * may not <what>: it needs Op or above." The server's 403 detail names
 * the role too, so only its least role is taken from it; a refusal for
 * another reason (a CSRF check) is shown as the server says it.
 */
export function refusal(role, what, err) {
  const m = /needs (\w+) or above/.exec(err?.message || '');
  return m ? `Your role (${role}) may not ${what}: it needs ${m[1]} or above.` : `Refused: ${err?.message || 'forbidden'}`;
}

/** el builds an element: attributes (on* are listeners), then children (strings or nodes). */
export function el(tag, attrs = {}, ...children) {
  const svg = attrs.svg;
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'svg' || v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** announce tells screen readers about an update (aria-live). */
export function announce(msg) {
  const n = document.getElementById('announce');
  if (n) { n.textContent = ''; setTimeout(() => { n.textContent = msg; }, 50); }
}

/**
 * confirmDialog asks before an action; resolves true when confirmed. The
 * answer is taken from the form's submit event, which comes with the
 * click, not from the dialog's close event, which is queued as a task of
 * its own and may come after the next confirmation is shown (a close
 * event while the dialog is open again is an earlier one's, ignored).
 * Escape closes the dialog: no.
 */
export function confirmDialog(title, text, okLabel = 'Confirm', extra = null) {
  const dlg = document.getElementById('confirm');
  const form = dlg.querySelector('form');
  dlg.querySelector('#confirm-title').textContent = title;
  const p = dlg.querySelector('#confirm-text');
  p.replaceChildren(text, ...(extra ? [extra] : []));
  dlg.querySelector('#confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    const onSubmit = (e) => done(e.submitter?.value === 'ok');
    const onClose = () => { if (!dlg.open) done(dlg.returnValue === 'ok'); };
    const done = (ok) => {
      form.removeEventListener('submit', onSubmit);
      dlg.removeEventListener('close', onClose);
      resolve(ok);
    };
    form.addEventListener('submit', onSubmit);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    dlg.querySelector('button[value="cancel"]').focus();
  });
}

/**
 * live calls load once the change feed is open (so no change in between is
 * missed), again on every change, and once more each time the feed opens
 * again (the tab shown after being hidden, a reconnect), one load at a
 * time. While the feed cannot open it loads once after 3s. The body's
 * data-live says the feed's state; the banner (#live-banner) says why the
 * page does not update live (too many open pages, a stream ended).
 */
export function live(load) {
  let running = false, again = false;
  const run = async () => {
    if (running) { again = true; return; }
    running = true;
    try { await load(); } catch (err) { console.error(err); }
    running = false;
    if (again) { again = false; run(); }
  };
  let opened = false;
  const fallback = setTimeout(() => { if (!opened) run(); }, 3000);
  if (!window.ReadableStream || !window.AbortController) { run(); setInterval(run, 5000); return run; }
  new LiveStream('/ui/api/events', {
    events: { change: run },
    open: () => { opened = true; clearTimeout(fallback); banner(''); run(); },
    busy: (detail) => { banner(busyText('This page does not update live', detail)); if (!opened) { opened = true; clearTimeout(fallback); run(); } },
    end: (reason) => banner(`Live updates stopped: ${reason}. Reload the page to resume them.`),
    failed: (status, detail) => banner(`Live updates are off: ${detail}.`),
    state: (s) => { document.body.dataset.live = s; },
  }).start();
  return run;
}

/** busyText says that the server refused a stream with 429, and what to do. */
export const busyText = (what, detail) =>
  `Too many open pages; close some tabs. ${what} until one closes (the server says: ${detail}).`;

/** banner shows msg in the page's live-updates banner ("" hides it). */
export function banner(msg) {
  const node = document.getElementById('live-banner');
  if (!node) return;
  node.hidden = !msg;
  node.textContent = msg;
}

const pad = (n) => String(n).padStart(2, '0');
/** fmtDate shows a time in the browser's zone, to the second. */
export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** fmtDuration shows seconds as 1h 2m 3s or 1.2s. */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined) return '';
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 1 : 0)}s`;
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = Math.round(sec % 60);
  return (h ? `${h}h ` : '') + `${m}m ${s}s`;
}

/** stateName is how a state reads: "none" for the empty one. */
export const stateName = (s) => (s ? s.replaceAll('_', ' ') : 'no status');
export const stateClass = (s) => 's-' + (s || 'none');

/** badge is a coloured state label. */
export function badge(state) {
  return el('span', { class: `state-badge ${stateClass(state)}` }, stateName(state));
}

export const states = ['', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry',
  'upstream_failed', 'skipped', 'up_for_reschedule', 'restarting', 'removed'];

/** legend fills node with a colour key of the states. */
export function legend(node) {
  if (!node) return;
  node.replaceChildren(...states.map((s) => el('span', {}, el('span', { class: `state ${stateClass(s)}`, 'aria-hidden': 'true' }), stateName(s))));
}

/** tiHref is a task instance's page. */
export const tiHref = (dag, run, task) => `/dags/${enc(dag)}/runs/${enc(run)}/tasks/${enc(task)}`;

/** showError puts an error's text in node (hidden when err is null). */
export function showError(node, err) {
  if (!node) return;
  node.hidden = !err;
  node.textContent = err ? (err.message || String(err)) : '';
}

/**
 * fieldError shows msg next to the form's field name (its <p id="e-NAME">,
 * which the field's aria-describedby names) and marks the field invalid.
 * The message is shown without the field's name the API puts first: the
 * label already says it. Returns whether the form has that field.
 */
export function fieldError(form, name, msg) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  const p = form.querySelector(`#e-${CSS.escape(name)}`);
  if (!input || !p) return false;
  input.setAttribute('aria-invalid', 'true');
  const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  if (!described.includes(p.id)) input.setAttribute('aria-describedby', [...described, p.id].join(' '));
  p.hidden = false;
  p.textContent = fieldMessage(name, msg);
  return true;
}

/**
 * fieldMessage drops what repeats the field's name from an error:
 * "slots: x", "param \"n\": x" and "conf: ..." prefixes, and "slots must
 * be…" becomes "Must be…".
 */
export function fieldMessage(name, msg) {
  const bare = name.replace(/^param\./, '');
  let m = String(msg);
  for (let again = true; again;) {
    again = false;
    for (const prefix of [`${name}: `, `${bare}: `, `param "${bare}": `]) {
      if (m.startsWith(prefix)) { m = m.slice(prefix.length); again = true; }
    }
  }
  if (m.startsWith(`${bare} `) && /^(is|must|has|may) /.test(m.slice(bare.length + 1))) {
    m = m.slice(bare.length + 1).replace(/^./, (c) => c.toUpperCase()).replace(/^Is required$/, 'Required');
  }
  return m;
}

/**
 * showFieldErrors shows every error of errs ([{field, message}]) at once
 * next to its field; those whose field the form lacks go to formError.
 * Returns how many there were.
 */
export function showFieldErrors(form, errs, formError) {
  const rest = errs.filter((e) => !fieldError(form, e.field, e.message));
  if (rest.length && formError) showError(formError, new Error(rest.map((e) => e.message).join(' ')));
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  return errs.length;
}

/** clearFieldErrors takes every field error off the form. */
export function clearFieldErrors(form) {
  for (const n of form.querySelectorAll('[aria-invalid]')) n.removeAttribute('aria-invalid');
  for (const n of form.querySelectorAll('p.error')) { n.hidden = true; n.textContent = ''; }
}

/** header fills the user's name and role and hides admin pages the role may not see. */
export async function header() {
  try {
    const who = await me();
    const node = document.getElementById('whoami');
    node.replaceChildren(el('span', { class: 'who', title: `${who.username} (${who.role})` },
      who.username, el('span', { class: 'muted' }, ` (${who.role})`)));
    if (who.auth && who.auth !== 'none') {
      const csrf = cookie('sirocco_csrf');
      node.append(el('form', { method: 'post', action: '/logout', class: 'inline' },
        el('input', { type: 'hidden', name: 'csrf_token', value: csrf }),
        el('button', { type: 'submit', class: 'secondary small' }, 'Log out')));
    }
    showNav(who.role);
    return who;
  } catch (err) {
    console.error(err);
    showNav('Viewer');
    return { username: '?', role: 'Viewer' };
  }
}

// showNav shows the admin pages' links role may open (the layout renders
// them hidden, so a link a role may not follow never flashes).
function showNav(role) {
  for (const li of document.querySelectorAll('.admin-link')) li.hidden = !atLeast(role, pageNeeds[li.dataset.admin]);
}

/** page is the body's data: page name and the ids in the path. */
export const page = {
  dagId: document.body.dataset.dagId,
  runId: document.body.dataset.runId,
  taskId: document.body.dataset.taskId,
};

/** dagSummary fills a DAG page's summary line and returns the DAG. */
export async function dagSummary() {
  const d = await api(`/api/v1/dags/${enc(page.dagId)}`);
  const node = document.getElementById('dag-summary');
  if (node) {
    const sched = d.timetable_description || 'no schedule';
    node.replaceChildren(`Schedule: ${sched}`, d.is_paused ? ' · paused' : ' · active',
      d.description ? ` · ${d.description}` : '');
  }
  return d;
}
