// The task instance page: details, the handle made readable (pid, Spark
// driver and application with links, pod, remote host), every try with its
// state and duration, each try's log (tailed live while it runs), rendered
// template fields, XComs, and the actions clear and mark. ?map_index=N
// names one instance of a mapped task (everything above is that
// instance's); without it a mapped task that has expanded lists its
// instances, each linking to its own page.
import { api, el, enc, live, header, can, confirmDialog, announce, page, badge, fmtDate, fmtDuration, stateName, refusal, tiHref } from './common.js';
import { LogView } from './logview.js';

const base = `/api/v1/dags/${enc(page.dagId)}/dagRuns/${enc(page.runId)}/taskInstances/${enc(page.taskId)}`;
// mapIndex is the instance of a mapped task the page shows (-1: none);
// mq and mamp are it as a query string and a further parameter.
const rawMap = new URLSearchParams(location.search).get('map_index');
const mapIndex = rawMap !== null && /^\d+$/.test(rawMap) ? Number(rawMap) : -1;
const mq = mapIndex >= 0 ? `?map_index=${mapIndex}` : '';
const mamp = mapIndex >= 0 ? `&map_index=${mapIndex}` : '';
const log = new LogView({
  box: document.getElementById('log'), status: document.getElementById('log-status'), earlier: document.getElementById('log-earlier'),
  url: (n, query) => `/ui/api/log?dag_id=${enc(page.dagId)}&run_id=${enc(page.runId)}&task_id=${enc(page.taskId)}&try=${n}${mamp}&${query}`,
  textHref: (n) => `${base}/logs/${n}${mq}`,
});
let who = { role: 'Viewer' };
let ti = null;
let shownTry = 0, followLatest = true;
// askedTry is the try whose log the address asks for (?try=N, as the Gantt's bars link).
const askedTry = Number(new URLSearchParams(location.search).get('try')) || 0;

const dd = (label, value) => [el('dt', {}, label), el('dd', {}, value ?? '')];

async function load() {
  ti = await api(`/ui/api/ti?dag_id=${enc(page.dagId)}&run_id=${enc(page.runId)}&task_id=${enc(page.taskId)}${mamp}`);
  document.getElementById('ti-state').replaceChildren(badge(ti.state));
  renderMapped();
  if (ti.instances) { renderActions(); document.body.dataset.ready = 'true'; return; }
  renderDetails();
  renderHandle();
  renderTries();
  renderRendered();
  renderActions();
  if (!shownTry && askedTry >= 1 && askedTry <= ti.try_number) {
    followLatest = askedTry === ti.try_number;
    openLog(askedTry);
  } else if (ti.try_number > 0 && (followLatest || !shownTry) && shownTry !== ti.try_number) openLog(ti.try_number);
  api(`${base}/xcomEntries?limit=1000${mamp}`).then(renderXComs).catch(() => {});
  document.body.dataset.ready = 'true';
}

// renderMapped shows what the page is of a mapped task: the list of its
// instances (the page names none), or which instance it is; the
// sections of one try are hidden on the list.
function renderMapped() {
  const list = document.getElementById('ti-instances');
  list.hidden = !ti.instances;
  for (const id of ['h-details', 'h-handle', 'h-tries', 'h-log', 'h-rendered', 'h-xcom']) {
    document.getElementById(id).closest('section').hidden = !!ti.instances;
  }
  const which = document.getElementById('ti-map');
  which.textContent = mapIndex >= 0 ? `[${mapIndex}]` : ti.mapped ? `[${ti.instances ? ti.instances.length : ' '}]` : '';
  const up = document.querySelector('.crumbs li[aria-current="page"]');
  if (mapIndex >= 0 && up && !up.querySelector('a')) { // the breadcrumb ends task › [N]
    up.removeAttribute('aria-current');
    up.replaceChildren(el('a', { href: tiHref(page.dagId, page.runId, page.taskId) }, page.taskId));
    up.after(el('li', { 'aria-current': 'page', class: 'map-crumb' }, `[${mapIndex}]`));
  }
  if (!ti.instances) {
    const note = document.getElementById('ti-map-note');
    note.hidden = !(ti.mapped && mapIndex < 0);
    note.textContent = placeholderNote(ti);
    return;
  }
  const tbody = list.querySelector('tbody');
  tbody.replaceChildren(...ti.instances.map((i) => el('tr', { 'data-map-index': i.map_index },
    el('td', {}, el('a', { href: `${tiHref(page.dagId, page.runId, page.taskId)}?map_index=${i.map_index}` }, String(i.map_index))),
    el('td', {}, badge(i.state)), el('td', {}, String(i.try_number)), el('td', {}, fmtDate(i.start_date)),
    el('td', {}, fmtDate(i.end_date)), el('td', {}, fmtDuration(i.duration)))));
  // Removed instances (a clear over a shorter list dropped them) are listed
  // but counted apart, as the grid's [N] leaves them out.
  const counts = {};
  const live = ti.instances.filter((i) => i.state !== 'removed');
  for (const i of live) counts[i.state || 'none'] = (counts[i.state || 'none'] || 0) + 1;
  const removed = ti.instances.length - live.length;
  document.getElementById('ti-instances-summary').textContent = `${live.length} instances: ` +
    Object.entries(counts).map(([st, n]) => `${n} ${stateName(st === 'none' ? '' : st)}`).join(', ') +
    (removed ? `; ${removed} removed` : '');
}

// placeholderNote says why a mapped task's page has no instance: it has
// not expanded yet, or it ended before it did (skipped over an empty list,
// failed or upstream failed: its note, when it has one, says why).
function placeholderNote(t) {
  if (t.state === 'skipped') {
    return 'A mapped task: it was skipped before it expanded, so it has no instance (its list was empty, or its upstream tasks skipped).';
  }
  if (t.state === 'upstream_failed') {
    return 'A mapped task: it did not expand, as an upstream task failed, so it has no instance.';
  }
  if (t.finished) {
    return `A mapped task: it ended ${stateName(t.state)} without expanding, so it has no instance${t.note ? ' (see its note)' : ''}.`;
  }
  if (t.waits) {
    return `A mapped task: it has not expanded yet, as it waits for the previous run: ${t.waits}. It does once that run allows it, one instance per element.`;
  }
  return 'A mapped task: it has not expanded yet. It does once its upstream tasks are done, one instance per element.';
}

function renderDetails() {
  const dur = ti.tries.length ? ti.tries[ti.tries.length - 1].duration : null;
  document.getElementById('ti-details').replaceChildren(
    ...dd('State', stateName(ti.state)), ...(ti.note ? dd('Note', ti.note) : []), ...dd('Operator', ti.operator || 'unknown (not in the DAG any more)'),
    ...dd('Try', ti.finished && !ti.try_number ? 'none (it ended without running a try)' : `${ti.try_number} of ${ti.max_tries + 1}`),
    ...dd('Started', fmtDate(ti.start_date)),
    ...dd('Ended', fmtDate(ti.end_date)), ...dd('Duration', fmtDuration(dur)), ...dd('Host', ti.hostname),
    ...dd('Pool', ti.pool), ...dd('Queue', ti.queue), ...(mapIndex >= 0 ? dd('Map index', String(mapIndex)) : []),
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
  // The list of a mapped task's instances offers Clear (all of them);
  // marking names one instance, on its own page.
  const marks = ti.instances ? [] : [
    el('button', { type: 'button', 'data-action': 'mark', class: 'secondary', disabled: !mayMark, onclick: () => mark('success') }, 'Mark success'),
    el('button', { type: 'button', 'data-action': 'mark', class: 'secondary', disabled: !mayMark, onclick: () => mark('failed') }, 'Mark failed')];
  node.replaceChildren(
    el('button', { type: 'button', 'data-action': 'clear', disabled: !mayClear, onclick: clearTask }, ti.instances ? 'Clear all instances' : 'Clear'),
    ...marks, el('span', { class: 'error', role: 'alert', id: 'action-error' }));
  if (!mayClear) node.append(el('span', { class: 'muted' }, `Your role (${who.role}) may only look.`));
}

async function clearTask() {
  if (mapIndex >= 0) return clearInstance();
  const downstream = el('input', { type: 'checkbox', id: 'clear-downstream', checked: true });
  const extra = el('span', { class: 'field check' }, el('br'), downstream, el('label', { for: 'clear-downstream' }, ' also clear its downstream tasks'));
  if (!await confirmDialog(`Clear ${page.taskId}?`, 'It runs again (a running try is stopped first).', 'Clear', extra)) return;
  await act(() => api(`/api/v1/dags/${enc(page.dagId)}/clearTaskInstances`, { method: 'POST',
    body: { dag_run_id: page.runId, task_ids: [page.taskId], include_downstream: downstream.checked } }),
  (res) => `${res.task_instances.length} task instances cleared`);
}

// clearInstance clears the one instance the page shows: the API's
// map_index clears only that instance of the named task (not its
// downstream tasks, which are not mapped).
async function clearInstance() {
  if (!await confirmDialog(`Clear ${page.taskId} [${mapIndex}]?`, 'This instance runs again (a running try is stopped first); the other instances are left alone.', 'Clear')) return;
  await act(() => api(`/api/v1/dags/${enc(page.dagId)}/clearTaskInstances`, { method: 'POST',
    body: { dag_run_id: page.runId, task_ids: [page.taskId], map_index: mapIndex } }),
  (res) => `${res.task_instances.length} task instances cleared`);
}

async function mark(state) {
  const name = mapIndex >= 0 ? `${page.taskId} [${mapIndex}]` : page.taskId;
  if (!await confirmDialog(`Mark ${name} ${state}?`, `Its state becomes ${state} (a running try is stopped).`, `Mark ${state}`)) return;
  await act(() => api(`${base}${mq}`, { method: 'PATCH', body: { new_state: state } }), () => `marked ${state}`);
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
