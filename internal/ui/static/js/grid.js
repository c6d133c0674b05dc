// The grid: tasks in rows, the latest runs in columns, each cell a task
// instance coloured by its state and linking to its page. Task groups are
// rows of their own, their tasks under them one level deeper; a group's
// cell shows the most severe state of its tasks, and its button collapses
// or expands it (remembered per DAG in localStorage). Only the rows in
// view are in the DOM, so a DAG of thousands of tasks paints at once.
// A mapped task's cell summarises its instances in the run (their most
// severe state, their count inside it) and links to the list of them;
// its button expands it into a row per map index (remembered per DAG).
import { api, el, enc, live, header, can, confirmDialog, announce, fmtDate, legend, page, dagSummary,
  stateClass, stateName, tiHref } from './common.js';

const ROW = 24;
const box = document.getElementById('grid');
const countSel = document.getElementById('run-count');
const panel = document.getElementById('run-panel');
let who = { role: 'Viewer' };
let grid = null, selected = new URLSearchParams(location.search).get('run_id') || '';
let head, body;
let shown = []; // the rows of grid.rows not inside a collapsed group
const collapsedKey = `sirocco.grid.collapsed.${page.dagId}`;
const collapsed = new Set(readList(collapsedKey));
// expanded lists the mapped tasks shown with a row per instance.
const expandedKey = `sirocco.grid.mapped.${page.dagId}`;
const expanded = new Set(readList(expandedKey));

function readList(key) {
  try { return JSON.parse(localStorage.getItem(key) || '[]'); } catch { return []; }
}

async function load() {
  const t0 = performance.now();
  const expand = [...expanded].map((id) => `&expand=${enc(id)}`).join('');
  grid = await api(`/ui/api/grid?dag_id=${enc(page.dagId)}&limit=${countSel.value}${expand}`);
  render();
  document.getElementById('grid-info').textContent =
    `${grid.tasks.length} tasks × ${grid.runs.length} runs`;
  box.dataset.loadedMs = String(Math.round(performance.now() - t0));
  box.dataset.ready = 'true';
}

function render() {
  const runs = grid.runs;
  // A keyboard user on a run's header keeps it through the refresh.
  const focused = box.contains(document.activeElement) ? document.activeElement.dataset.run : undefined;
  const focusedGroup = box.contains(document.activeElement) ? document.activeElement.dataset.toggle : undefined;
  const focusedTask = box.contains(document.activeElement) ? document.activeElement.dataset.toggleTask : undefined;
  showRows();
  head = el('div', { class: 'ghead', role: 'row' },
    el('div', { class: 'gname', role: 'columnheader' }, 'Task'),
    ...runs.map((r) => el('div', { class: 'grun', role: 'columnheader' }, runHeader(r))));
  body = el('div', { class: 'gbody', role: 'rowgroup' });
  body.style.position = 'relative';
  box.setAttribute('role', 'table');
  box.replaceChildren(head, body);
  sizeBody();
  renderPanel();
  if (focused !== undefined) head.querySelector(`button.runhead[data-run="${CSS.escape(focused)}"]`)?.focus();
  if (focusedGroup !== undefined) body.querySelector(`button[data-toggle="${CSS.escape(focusedGroup)}"]`)?.focus();
  if (focusedTask !== undefined) body.querySelector(`button[data-toggle-task="${CSS.escape(focusedTask)}"]`)?.focus();
}

// showRows lists the rows shown: each row of grid.rows (a row per task
// when the DAG has no group) but those under a collapsed group (rows
// deeper than it, up to the next one as shallow).
function showRows() {
  shown = [];
  let hideBelow = Infinity;
  for (const r of grid.rows || grid.tasks.map((_, task) => ({ task, depth: 0 }))) {
    if (r.depth > hideBelow) continue;
    hideBelow = Infinity;
    shown.push(r);
    if (r.group !== undefined && collapsed.has(grid.groups[r.group].id)) hideBelow = r.depth;
    const task = r.task !== undefined ? grid.tasks[r.task] : null;
    if (task && task.instances && expanded.has(task.id)) {
      const n = Math.max(0, ...task.instances.map((l) => l.length));
      for (let i = 0; i < n; i++) shown.push({ instanceOf: r.task, index: i, depth: r.depth + 1 });
    }
  }
}

// toggleTask shows or hides the rows of a mapped task's instances (read
// from the server with the grid), keeping its button focused.
async function toggleTask(id) {
  if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
  try { localStorage.setItem(expandedKey, JSON.stringify([...expanded])); } catch { /* private mode: not remembered */ }
  await load();
  body.querySelector(`button[data-toggle-task="${CSS.escape(id)}"]`)?.focus();
  announce(`mapped task ${id} ${expanded.has(id) ? 'expanded' : 'collapsed'}`);
}

function sizeBody() {
  body.style.height = `${shown.length * ROW}px`;
  box.setAttribute('aria-rowcount', String(shown.length + 1));
  painted = '';
  paint();
}

// toggle collapses or expands a group, keeping its button focused.
function toggle(id) {
  if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
  try { localStorage.setItem(collapsedKey, JSON.stringify([...collapsed])); } catch { /* private mode: not remembered */ }
  showRows();
  sizeBody();
  body.querySelector(`button[data-toggle="${CSS.escape(id)}"]`)?.focus();
  announce(`group ${id} ${collapsed.has(id) ? 'collapsed' : 'expanded'}`);
}

// runTypes gives each run type its letter in a column's header.
const runTypes = { manual: 'M', scheduled: 'S', backfill: 'B' };
const typeLetter = (t) => runTypes[t] || (t ? t[0].toUpperCase() : '?');

// shortDate is a logical date as a column header shows it: MM-DD HH:MM.
function shortDate(s) {
  const full = fmtDate(s);
  return full ? full.slice(5, 16) : '—';
}

// runHeader is a run column's header: its type's letter, its logical
// date, a bar coloured by its state (longer runs taller, as in Airflow's
// grid); a button that selects the run, its full id in the tooltip.
function runHeader(r) {
  const what = `run ${r.run_id}: ${r.run_type || 'unknown'} run, logical date ${fmtDate(r.logical_date) || 'none'}, ${stateName(r.state)}`;
  const b = el('button', { type: 'button', class: 'runhead', 'aria-pressed': String(r.run_id === selected),
    'data-run': r.run_id, 'aria-label': what, title: `${r.run_id}\n${r.run_type} · ${stateName(r.state)}\nlogical date ${fmtDate(r.logical_date)}`,
    onclick: () => select(r.run_id) },
  el('span', { class: 'rtype', 'aria-hidden': 'true' }, typeLetter(r.run_type)),
  el('span', { class: 'rdate', 'aria-hidden': 'true' }, shortDate(r.logical_date)),
  el('span', { class: `rbar ${stateClass(r.state)}`, 'aria-hidden': 'true' }));
  b.lastChild.style.height = `${runHeight(r)}px`;
  return b;
}

// runHeight makes longer runs taller bars, as Airflow's grid does.
function runHeight(r) {
  const durations = grid.runs.map(dur);
  const max = Math.max(1, ...durations);
  return 6 + Math.round((dur(r) / max) * 24);
}
const dur = (r) => (r.start_date ? ((r.end_date ? new Date(r.end_date) : new Date()) - new Date(r.start_date)) / 1000 : 0);

let painted = '';
function paint() {
  if (!grid) return;
  const top = Math.max(0, box.scrollTop - body.offsetTop);
  const first = Math.max(0, Math.floor(top / ROW) - 10);
  const last = Math.min(shown.length, Math.ceil((top + box.clientHeight) / ROW) + 10);
  const key = `${first}:${last}`;
  if (key === painted && body.childElementCount) return;
  painted = key;
  const rows = [];
  for (let t = first; t < last; t++) rows.push(row(t));
  body.replaceChildren(...rows);
}

function row(n) {
  const spec = shown[n];
  const r = spec.group !== undefined ? groupRow(spec) : spec.instanceOf !== undefined ? instanceRow(spec) : taskRow(spec);
  r.setAttribute('aria-rowindex', String(n + 2));
  r.style.top = `${n * ROW}px`;
  return r;
}

// indent is a row header's left padding at depth.
const indent = (depth) => `${0.5 + depth * 1.2}em`;

// groupRow is a task group's row: a button that collapses or expands it
// (aria-expanded) and, per run, the most severe state of its tasks.
function groupRow(spec) {
  const g = grid.groups[spec.group];
  const open = !collapsed.has(g.id);
  const name = el('div', { class: 'gname', role: 'rowheader' },
    el('button', { type: 'button', class: 'gtoggle', 'aria-expanded': String(open), 'data-toggle': g.id,
      title: g.tooltip ? `${g.id}: ${g.tooltip}` : `task group ${g.id}`, onclick: () => toggle(g.id) },
    el('span', { class: 'caret', 'aria-hidden': 'true' }, open ? '▾' : '▸'), ` ${g.label}`));
  name.style.paddingLeft = indent(spec.depth);
  return el('div', { class: 'grow ggroup', role: 'row', 'data-group': g.id }, name,
    ...grid.runs.map((run, i) => {
      const state = grid.states[grid.group_cells[i][spec.group]];
      return el('div', { class: 'gcell', role: 'cell' }, el('span', { class: `cell group ${stateClass(state)}`,
        'data-group': g.id, 'data-run': run.run_id, 'data-state': state || 'none', role: 'img',
        'aria-label': `group ${g.id} in run ${run.run_id}: ${stateName(state)}`, title: `${g.id}: ${stateName(state)}` }));
    }));
}

// taskRow is a task's row: a cell per run linking to its task instance.
// A task in a group shows its id without the group's prefix; a mapped
// one its count of instances in the newest run that expanded it, as
// Airflow's "[N]" ("[ ]" before any did).
function taskRow(spec) {
  const t = spec.task;
  const task = grid.tasks[t];
  const label = task.group && task.id.startsWith(`${task.group}.`) ? task.id.slice(task.group.length + 1) : task.id;
  const name = el('div', { class: 'gname', role: 'rowheader', title: task.id }, task.counts ? mappedName(task, label) : label);
  name.style.paddingLeft = indent(spec.depth);
  return el('div', { class: 'grow', role: 'row', 'data-row-task': task.id }, name,
    ...grid.runs.map((run, i) => {
      const state = grid.states[grid.cells[i][t]];
      if (task.counts) return el('div', { class: 'gcell', role: 'cell' }, mappedCell(task, run, state, task.counts[i]));
      return el('div', { class: 'gcell', role: 'cell' }, el('a', {
        href: tiHref(grid.dag_id, run.run_id, task.id), class: stateClass(state),
        'data-task': task.id, 'data-run': run.run_id, 'data-state': state || 'none',
        'aria-label': `${task.id} in run ${run.run_id}: ${stateName(state)}`, title: `${task.id}: ${stateName(state)}`,
      }));
    }));
}

// mappedName is a mapped task's row header: a button that expands it
// into a row per instance, its label and count.
function mappedName(task, label) {
  const open = expanded.has(task.id);
  return el('button', { type: 'button', class: 'gtoggle mapped', 'aria-expanded': String(open), 'data-toggle-task': task.id,
    title: `mapped task ${task.id}: ${open ? 'hide' : 'show'} a row per instance`, onclick: () => toggleTask(task.id) },
  el('span', { class: 'caret', 'aria-hidden': 'true' }, open ? '▾' : '▸'), ` ${label}`,
  el('span', { class: 'mapcount' }, ` ${mapBadge(task.counts)}`));
}

// instanceRow is the row of map index spec.index of a mapped task: a
// cell per run in which it has that instance, linking to its page.
function instanceRow(spec) {
  const task = grid.tasks[spec.instanceOf];
  const name = el('div', { class: 'gname', role: 'rowheader', title: `${task.id} [${spec.index}]` }, `[${spec.index}]`);
  name.style.paddingLeft = indent(spec.depth);
  return el('div', { class: 'grow ginstance', role: 'row', 'data-row-instance': `${task.id}[${spec.index}]` }, name,
    ...grid.runs.map((run, i) => {
      const s = task.instances[i][spec.index];
      if (s === undefined || s < 0) return el('div', { class: 'gcell', role: 'cell' });
      const state = grid.states[s];
      return el('div', { class: 'gcell', role: 'cell' }, el('a', {
        href: `${tiHref(grid.dag_id, run.run_id, task.id)}?map_index=${spec.index}`, class: stateClass(state),
        'data-task': task.id, 'data-map-index': String(spec.index), 'data-run': run.run_id, 'data-state': state || 'none',
        'aria-label': `${task.id} [${spec.index}] in run ${run.run_id}: ${stateName(state)}`, title: `${task.id} [${spec.index}]: ${stateName(state)}`,
      }));
    }));
}

// mapBadge is "[N]" for the newest run's count that is known, else "[ ]".
function mapBadge(counts) {
  for (let i = counts.length - 1; i >= 0; i--) if (counts[i] >= 0) return `[${counts[i]}]`;
  return '[ ]';
}

// mappedCell is a mapped task's cell in a run: the most severe state of
// its n instances (n < 0: it has not expanded there), n written in it,
// linking to the list of its instances.
function mappedCell(task, run, state, n) {
  const what = n >= 0 ? `${n} mapped instances, ${stateName(state)}`
    : state === 'skipped' ? 'skipped before it expanded (no instance)'
      : state ? `${stateName(state)}, not expanded` : 'not expanded yet';
  return el('a', { href: tiHref(grid.dag_id, run.run_id, task.id), class: `mapped ${stateClass(state)}`,
    'data-task': task.id, 'data-run': run.run_id, 'data-state': state || 'none', 'data-count': String(n),
    'aria-label': `${task.id} in run ${run.run_id}: ${what}`, title: `${task.id}: ${what}` },
  n >= 0 ? (n > 99 ? '99+' : String(n)) : '');
}

function select(runId) {
  selected = selected === runId ? '' : runId;
  for (const b of head.querySelectorAll('.grun button')) b.setAttribute('aria-pressed', String(b.dataset.run === selected));
  const u = new URL(location.href);
  if (selected) u.searchParams.set('run_id', selected); else u.searchParams.delete('run_id');
  history.replaceState(null, '', u);
  renderPanel();
}

function renderPanel() {
  const run = grid.runs.find((r) => r.run_id === selected);
  panel.hidden = !run;
  if (!run) return;
  const mayDelete = can(who.role, 'deleteRun'), mayClear = can(who.role, 'clear');
  panel.replaceChildren(
    el('h2', {}, `Run ${run.run_id} `, el('span', { class: `state-badge ${stateClass(run.state)}` }, stateName(run.state))),
    el('p', {}, `Type ${run.run_type} · logical date ${fmtDate(run.logical_date)} · started ${fmtDate(run.start_date) || '—'} · ended ${fmtDate(run.end_date) || '—'}`),
    el('div', { class: 'actions' },
      el('a', { class: 'button secondary', href: `/dags/${enc(grid.dag_id)}/gantt?run_id=${enc(run.run_id)}` }, 'Gantt'),
      el('a', { class: 'button secondary', href: `/dags/${enc(grid.dag_id)}/graph?run_id=${enc(run.run_id)}` }, 'Graph'),
      el('button', { type: 'button', disabled: !mayClear, onclick: () => clearRun(run, true) }, 'Clear failed tasks'),
      el('button', { type: 'button', disabled: !mayClear, onclick: () => clearRun(run, false) }, 'Clear all tasks'),
      el('button', { type: 'button', class: 'danger', disabled: !mayDelete, onclick: () => deleteRun(run) }, 'Delete run')),
    el('p', { class: 'error', role: 'alert', id: 'run-error' }));
}

async function clearRun(run, onlyFailed) {
  const what = onlyFailed ? 'its failed tasks' : 'all its tasks';
  if (!await confirmDialog(`Clear run ${run.run_id}?`, `This runs ${what} again.`, 'Clear')) return;
  try {
    const res = await api(`/api/v1/dags/${enc(grid.dag_id)}/clearTaskInstances`, { method: 'POST',
      body: { dag_run_id: run.run_id, only_failed: onlyFailed } });
    announce(`${res.task_instances.length} task instances cleared`);
  } catch (err) { document.getElementById('run-error').textContent = err.message; }
}

async function deleteRun(run) {
  if (!await confirmDialog(`Delete run ${run.run_id}?`, 'The run, its task instances and their XComs are removed from the database. This cannot be undone.', 'Delete')) return;
  try {
    await api(`/api/v1/dags/${enc(grid.dag_id)}/dagRuns/${enc(run.run_id)}`, { method: 'DELETE', body: {} });
    selected = '';
    announce(`run ${run.run_id} deleted`);
    await load();
  } catch (err) { document.getElementById('run-error').textContent = err.message; }
}

box.addEventListener('scroll', () => requestAnimationFrame(paint), { passive: true });
countSel.addEventListener('change', load);
legend(document.getElementById('legend'));
header().then((w) => { who = w; live(load); dagSummary().catch(() => {}); });
