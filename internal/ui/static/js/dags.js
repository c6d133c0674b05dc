// The DAG list: every DAG with its schedule, recent runs, next run, tags,
// pause switch and trigger button; filters; the import errors banner.
import { api, el, enc, live, header, can, confirmDialog, announce, fmtDate, stateClass, stateName, showError } from './common.js';

const tbody = document.querySelector('#dags tbody');
const search = document.getElementById('search');
const tagSel = document.getElementById('tag');
const pausedSel = document.getElementById('paused');
let who = { role: 'Viewer' };
let dags = [], extras = new Map();

async function allDAGs() {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`/api/v1/dags?limit=1000&offset=${offset}`);
    out.push(...page.dags);
    if (out.length >= page.total_entries || page.dags.length === 0) return out;
  }
}

async function load() {
  const [list, rows, errs] = await Promise.all([allDAGs(), api('/ui/api/dags'), api('/api/v1/importErrors?limit=1000')]);
  dags = list;
  extras = new Map(rows.dags.map((r) => [r.dag_id, r]));
  renderTags();
  render();
  renderImportErrors(errs.import_errors || []);
}

function renderTags() {
  const tags = [...new Set(dags.flatMap((d) => d.tags.map((t) => t.name)))].sort();
  const cur = tagSel.value;
  tagSel.replaceChildren(el('option', { value: '' }, 'All tags'), ...tags.map((t) => el('option', { value: t }, t)));
  tagSel.value = tags.includes(cur) ? cur : '';
}

function visible() {
  const q = search.value.trim().toLowerCase();
  const tag = tagSel.value, paused = pausedSel.value;
  return dags.filter((d) => (!q || d.dag_id.toLowerCase().includes(q)) &&
    (!tag || d.tags.some((t) => t.name === tag)) &&
    (!paused || String(d.is_paused) === paused));
}

function render() {
  const shown = visible();
  document.getElementById('dag-count').textContent = `${shown.length} of ${dags.length} DAGs`;
  if (shown.length === 0) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 8 }, dags.length ? 'No DAG matches the filters.' : 'No DAG is loaded: add YAML files to the DAGs folder.')));
    return;
  }
  tbody.replaceChildren(...shown.map(row));
}

function row(d) {
  const x = extras.get(d.dag_id) || { recent_runs: [] };
  const href = `/dags/${enc(d.dag_id)}`;
  const runs = [...x.recent_runs].reverse().map((r) => el('a', {
    href: `/dags/${enc(d.dag_id)}/gantt?run_id=${enc(r.run_id)}`, class: `state ${stateClass(r.state)}`,
    title: `${r.run_id}: ${stateName(r.state)}`, 'aria-label': `run ${r.run_id}: ${stateName(r.state)}`,
  }));
  const last = x.recent_runs[0];
  const mayPause = can(who.role, 'pause'), mayTrigger = can(who.role, 'trigger');
  const toggle = el('input', { type: 'checkbox', role: 'switch', checked: !d.is_paused, disabled: !mayPause,
    'aria-label': `${d.dag_id} active (unpaused)`, class: 'pause-toggle', 'data-dag': d.dag_id,
    onchange: (e) => setPaused(d, !e.target.checked, e.target) });
  return el('tr', { 'data-dag': d.dag_id },
    el('td', {}, toggle),
    el('td', {}, el('a', { href }, d.dag_id), d.description ? el('div', { class: 'muted' }, d.description) : null),
    el('td', {}, d.timetable_description || 'none'),
    el('td', {}, el('div', { class: 'runs' }, runs.length ? runs : el('span', { class: 'muted' }, 'no runs'))),
    el('td', {}, last ? fmtDate(last.logical_date) : ''),
    el('td', { class: 'next-run' }, x.next_run ? [fmtDate(x.next_run),
      x.next_run_at ? el('div', { class: 'muted' }, `runs after ${fmtDate(x.next_run_at)}`) : null] : ''),
    el('td', {}, d.tags.map((t) => el('span', { class: 'tag' }, t.name))),
    el('td', {}, mayTrigger
      ? el('a', { class: 'button small', href: `${href}/trigger`, 'aria-label': `Trigger ${d.dag_id}` }, 'Trigger')
      : el('button', { class: 'small', disabled: true, title: 'Your role may not trigger runs' }, 'Trigger')),
  );
}

async function setPaused(d, paused, input) {
  const verb = paused ? 'Pause' : 'Unpause';
  const ok = await confirmDialog(`${verb} ${d.dag_id}?`,
    paused ? 'No new run is scheduled while it is paused; running tasks finish.' : 'Its schedule resumes.', verb);
  if (!ok) { input.checked = !d.is_paused; input.focus(); return; }
  try {
    const res = await api(`/api/v1/dags/${enc(d.dag_id)}`, { method: 'PATCH', body: { is_paused: paused } });
    d.is_paused = res.is_paused;
    announce(`${d.dag_id} ${paused ? 'paused' : 'unpaused'}`);
  } catch (err) {
    input.checked = !d.is_paused;
    showError(document.getElementById('dags-error'), new Error(`${verb} ${d.dag_id} failed: ${err.message}`));
  }
  input.focus();
}

function renderImportErrors(errs) {
  const box = document.getElementById('import-errors');
  box.hidden = errs.length === 0;
  if (!errs.length) { box.replaceChildren(); return; }
  box.replaceChildren(el('h2', {}, `${errs.length} DAG file${errs.length > 1 ? 's' : ''} failed to load`),
    ...errs.map((e) => el('div', {}, el('strong', {}, where(e)), el('pre', {}, e.stack_trace))));
}

// where is file:line of an import error: its message's first "file:line:" when it names one.
function where(e) {
  const m = /^(\S+?):(\d+)(?::\d+)?:/m.exec(e.stack_trace || '');
  return m ? `${m[1]}:${m[2]}` : e.filename;
}

for (const n of [search, tagSel, pausedSel]) n.addEventListener('input', render);
document.getElementById('filters').addEventListener('submit', (e) => e.preventDefault());
header().then((w) => { who = w; live(load); });
