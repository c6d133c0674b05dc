// The task instance page: details, the handle made readable (pid, Spark
// driver and application with links, pod, remote host), every try with its
// state and duration, each try's log (tailed live while it runs), rendered
// template fields, XComs, and the actions clear and mark.
import { api, el, enc, live, header, can, confirmDialog, announce, page, badge, fmtDate, fmtDuration, stateName, refusal } from './common.js';
import { LogView } from './logview.js';

const base = `/api/v1/dags/${enc(page.dagId)}/dagRuns/${enc(page.runId)}/taskInstances/${enc(page.taskId)}`;
const log = new LogView({
  box: document.getElementById('log'), status: document.getElementById('log-status'), earlier: document.getElementById('log-earlier'),
  url: (n, query) => `/ui/api/log?dag_id=${enc(page.dagId)}&run_id=${enc(page.runId)}&task_id=${enc(page.taskId)}&try=${n}&${query}`,
  textHref: (n) => `${base}/logs/${n}`,
});
let who = { role: 'Viewer' };
let ti = null;
let shownTry = 0, followLatest = true;
// askedTry is the try whose log the address asks for (?try=N, as the Gantt's bars link).
const askedTry = Number(new URLSearchParams(location.search).get('try')) || 0;

const dd = (label, value) => [el('dt', {}, label), el('dd', {}, value ?? '')];

async function load() {
  ti = await api(`/ui/api/ti?dag_id=${enc(page.dagId)}&run_id=${enc(page.runId)}&task_id=${enc(page.taskId)}`);
  document.getElementById('ti-state').replaceChildren(badge(ti.state));
  renderDetails();
  renderHandle();
  renderTries();
  renderRendered();
  renderActions();
  if (!shownTry && askedTry >= 1 && askedTry <= ti.try_number) {
    followLatest = askedTry === ti.try_number;
    openLog(askedTry);
  } else if (ti.try_number > 0 && (followLatest || !shownTry) && shownTry !== ti.try_number) openLog(ti.try_number);
  api(`${base}/xcomEntries?limit=1000`).then(renderXComs).catch(() => {});
  document.body.dataset.ready = 'true';
}

function renderDetails() {
  const dur = ti.tries.length ? ti.tries[ti.tries.length - 1].duration : null;
  document.getElementById('ti-details').replaceChildren(
    ...dd('State', stateName(ti.state)), ...dd('Operator', ti.operator || 'unknown (not in the DAG any more)'),
    ...dd('Try', `${ti.try_number} of ${ti.max_tries + 1}`), ...dd('Started', fmtDate(ti.start_date)),
    ...dd('Ended', fmtDate(ti.end_date)), ...dd('Duration', fmtDuration(dur)), ...dd('Host', ti.hostname),
    ...dd('Pool', ti.pool), ...dd('Queue', ti.queue),
    ...dd('Upstream', (ti.depends_on || []).length ? el('span', {}, ...ti.depends_on.flatMap((t, i) =>
      [i ? ', ' : '', el('a', { href: `/dags/${enc(page.dagId)}/runs/${enc(page.runId)}/tasks/${enc(t)}` }, t)])) : 'none'));
}

function renderHandle() {
  const h = ti.handle;
  const node = document.getElementById('ti-handle');
  node.dataset.source = ti.handle_source || 'none';
  if (!h.fields.length) {
    node.replaceChildren(...dd('Handle', noHandle()));
    return;
  }
  node.replaceChildren(...dd('Kind', h.kind || 'unknown'),
    ...h.fields.flatMap((f) => dd(f.label, f.href
      ? el('a', { href: f.href, target: '_blank', rel: 'noopener noreferrer', class: 'handle-link', 'data-label': f.label }, f.value)
      : f.value)),
    ...(ti.handle_source === 'log' ? dd('Read from', `the log of try ${ti.try_number}: the try ended before its handle ` +
      'was saved to the database (a process saves it once it has run for 100 ms, and notes it in its log at once)') : []));
}

// noHandle says why a task instance shows no handle.
function noHandle() {
  if (ti.try_number === 0) return 'none yet: no try has started';
  if (!ti.finished) return 'not saved yet: a process saves its handle once it has run for 100 ms';
  return `no handle: try ${ti.try_number} finished before one was saved, or started no work outside Sirocco (its log notes none)`;
}

function renderTries() {
  const tbody = document.querySelector('#ti-tries tbody');
  if (!ti.tries.length) { tbody.replaceChildren(el('tr', {}, el('td', { colspan: 6 }, 'No try has started yet.'))); return; }
  tbody.replaceChildren(...ti.tries.map((t) => el('tr', { 'data-try': t.try },
    el('td', {}, String(t.try)), el('td', {}, badge(t.state === 'none' ? '' : t.state)),
    el('td', {}, fmtDate(t.start_date)), el('td', {}, fmtDate(t.end_date)), el('td', {}, fmtDuration(t.duration)),
    el('td', {}, el('button', { type: 'button', class: 'secondary small', 'aria-pressed': String(t.try === shownTry),
      onclick: () => { followLatest = t.try === ti.try_number; openLog(t.try); } }, `Log of try ${t.try}`)))));
}

function renderRendered() {
  const r = ti.rendered || {};
  const keys = Object.keys(r).sort();
  document.getElementById('ti-rendered').replaceChildren(...(keys.length
    ? keys.flatMap((k) => dd(k, el('pre', {}, typeof r[k] === 'string' ? r[k] : JSON.stringify(r[k], null, 2))))
    : dd('Fields', 'none rendered yet')));
}

function renderXComs(res) {
  const tbody = document.querySelector('#ti-xcoms tbody');
  const list = res.xcom_entries || [];
  tbody.replaceChildren(...(list.length ? list.map((x) => el('tr', {}, el('td', {}, x.key),
    el('td', {}, el('pre', {}, typeof x.value === 'string' ? x.value : JSON.stringify(x.value, null, 2))), el('td', {}, fmtDate(x.timestamp))))
    : [el('tr', {}, el('td', { colspan: 3 }, 'No XCom pushed.'))]));
}

function renderActions() {
  const mayClear = can(who.role, 'clear'), mayMark = can(who.role, 'mark');
  const node = document.getElementById('ti-actions');
  if (node.childElementCount) { // keep focus: only refresh disabled states
    for (const b of node.querySelectorAll('button')) b.disabled = !(b.dataset.action === 'clear' ? mayClear : mayMark);
    return;
  }
  node.replaceChildren(
    el('button', { type: 'button', 'data-action': 'clear', disabled: !mayClear, onclick: clearTask }, 'Clear'),
    el('button', { type: 'button', 'data-action': 'mark', class: 'secondary', disabled: !mayMark, onclick: () => mark('success') }, 'Mark success'),
    el('button', { type: 'button', 'data-action': 'mark', class: 'secondary', disabled: !mayMark, onclick: () => mark('failed') }, 'Mark failed'),
    el('span', { class: 'error', role: 'alert', id: 'action-error' }));
  if (!mayClear) node.append(el('span', { class: 'muted' }, `Your role (${who.role}) may only look.`));
}

async function clearTask() {
  const downstream = el('input', { type: 'checkbox', id: 'clear-downstream', checked: true });
  const extra = el('span', { class: 'field check' }, el('br'), downstream, el('label', { for: 'clear-downstream' }, ' also clear its downstream tasks'));
  if (!await confirmDialog(`Clear ${page.taskId}?`, 'It runs again (a running try is stopped first).', 'Clear', extra)) return;
  await act(() => api(`/api/v1/dags/${enc(page.dagId)}/clearTaskInstances`, { method: 'POST',
    body: { dag_run_id: page.runId, task_ids: [page.taskId], include_downstream: downstream.checked } }),
  (res) => `${res.task_instances.length} task instances cleared`);
}

async function mark(state) {
  if (!await confirmDialog(`Mark ${page.taskId} ${state}?`, `Its state becomes ${state} (a running try is stopped).`, `Mark ${state}`)) return;
  await act(() => api(base, { method: 'PATCH', body: { new_state: state } }), () => `marked ${state}`);
}

async function act(call, said) {
  const errNode = document.getElementById('action-error');
  errNode.textContent = '';
  try {
    const res = await call();
    announce(said(res));
    followLatest = true;
  } catch (err) {
    errNode.textContent = err.status === 403 ? refusal(who.role, 'do this', err) : err.message;
  }
}

// openLog shows the log of one try, streamed while it runs.
function openLog(n) {
  shownTry = n;
  for (const b of document.querySelectorAll('#ti-tries button')) b.setAttribute('aria-pressed', String(b.textContent === `Log of try ${n}`));
  document.getElementById('log-try').textContent = `(try ${n})`;
  log.open(n);
}

header().then((w) => { who = w; live(load); });
