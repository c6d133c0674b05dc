// The Gantt chart of one run: a bar per task instance from its start to its
// end (now, while it runs), coloured by state; each row links to the task.
import { api, el, enc, live, header, page, dagSummary, stateClass, stateName, tiHref, fmtDate, fmtDuration } from './common.js';

const box = document.getElementById('gantt');
const runSel = document.getElementById('gantt-run');

async function loadRuns() {
  const res = await api(`/api/v1/dags/${enc(page.dagId)}/dagRuns?limit=25`);
  const want = new URLSearchParams(location.search).get('run_id') || runSel.value;
  runSel.replaceChildren(el('option', { value: '' }, 'Latest run'),
    ...res.dag_runs.map((r) => el('option', { value: r.dag_run_id }, `${r.dag_run_id} (${stateName(r.state)})`)));
  if (want) {
    if (!res.dag_runs.some((r) => r.dag_run_id === want)) runSel.append(el('option', { value: want }, want));
    runSel.value = want;
  }
  return res.dag_runs;
}

async function load() {
  let runId = runSel.value;
  if (!runId) {
    const res = await api(`/api/v1/dags/${enc(page.dagId)}/dagRuns?limit=1`);
    if (!res.dag_runs.length) { box.replaceChildren(el('p', {}, 'This DAG has no run yet.')); return; }
    runId = res.dag_runs[0].dag_run_id;
  }
  const base = `/api/v1/dags/${enc(page.dagId)}/dagRuns/${enc(runId)}`;
  const [run, tis] = await Promise.all([api(base), api(`${base}/taskInstances?limit=1000`)]);
  render(run, tis.task_instances);
  box.dataset.ready = 'true';
}

function render(run, tis) {
  const now = Date.now();
  const t = (s) => (s ? new Date(s).getTime() : null);
  const starts = tis.map((ti) => t(ti.start_date)).filter((x) => x !== null);
  const lo = Math.min(t(run.start_date) ?? Infinity, ...starts);
  if (!isFinite(lo)) {
    box.replaceChildren(el('p', {}, `Run ${run.dag_run_id} (${stateName(run.state)}) has not started a task yet.`));
    document.getElementById('gantt-info').textContent = '';
    return;
  }
  const hi = Math.max(t(run.end_date) ?? now, ...tis.map((ti) => t(ti.end_date) ?? (ti.start_date ? now : lo)), lo + 1000);
  const span = hi - lo;
  document.getElementById('gantt-info').textContent =
    `run ${run.dag_run_id}: ${stateName(run.state)}, ${fmtDate(new Date(lo).toISOString())} → ${fmtDuration(span / 1000)}`;
  const rows = tis.map((ti) => {
    const s = t(ti.start_date), e = t(ti.end_date) ?? (s ? now : null);
    const label = `${ti.task_id}: ${stateName(ti.state)}${s ? `, ${fmtDuration((e - s) / 1000)}` : ''}`;
    const track = el('div', { class: 'track' });
    if (s) {
      const bar = el('a', { class: `bar ${stateClass(ti.state)}`, href: tiHref(ti.dag_id, ti.dag_run_id, ti.task_id),
        title: label, 'aria-label': label });
      bar.style.left = `${((s - lo) / span) * 100}%`;
      bar.style.width = `${(Math.max(e - s, 0) / span) * 100}%`;
      track.append(bar);
    }
    return el('div', { class: 'row' },
      el('div', { class: 'label' }, el('a', { href: tiHref(ti.dag_id, ti.dag_run_id, ti.task_id) }, ti.task_id)), track);
  });
  box.replaceChildren(...rows);
}

runSel.addEventListener('change', () => {
  const u = new URL(location.href);
  if (runSel.value) u.searchParams.set('run_id', runSel.value); else u.searchParams.delete('run_id');
  history.replaceState(null, '', u);
  load();
});
header().then(() => { loadRuns().catch(console.error); live(load); dagSummary().catch(() => {}); });
