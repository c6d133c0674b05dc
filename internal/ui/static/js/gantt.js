// The Gantt chart of one run: a row per task instance, a bar per try (an
// earlier try's times come from its log) from its start to its end (now,
// while it runs), coloured by the try's state, under a time axis with
// wall-clock ticks and offsets from the run's first start. A task that
// never ran (skipped or upstream_failed by the scheduler, not started
// yet) has a labelled row with no bar.
import { api, el, enc, live, header, page, dagSummary, stateClass, stateName, tiHref, fmtDate, fmtDuration } from './common.js';

const box = document.getElementById('gantt');
const info = document.getElementById('gantt-info');
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
}

async function load() {
  const want = runSel.value || new URLSearchParams(location.search).get('run_id') || '';
  const g = await api(`/ui/api/gantt?dag_id=${enc(page.dagId)}${want ? `&run_id=${enc(want)}` : ''}`);
  render(g);
  box.dataset.ready = 'true';
}

const ms = (s) => (s ? Date.parse(s) : null);

// span is the chart's time range: from the run's (or its first try's)
// start to its end, or now while it runs; at least a second.
function span(g) {
  const now = ms(g.now) ?? Date.now();
  const tries = g.tasks.flatMap((t) => t.tries).filter((t) => t.start_date);
  const lo = Math.min(ms(g.run.start_date) ?? Infinity, ...tries.map((t) => ms(t.start_date)));
  if (!isFinite(lo)) return null;
  const hi = Math.max(ms(g.run.end_date) ?? now, ...tries.map((t) => ms(t.end_date) ?? now), lo + 1000);
  return { lo, hi, now };
}

function render(g) {
  if (!g.run) {
    box.replaceChildren(el('p', {}, 'This DAG has no run yet.'));
    info.textContent = '';
    return;
  }
  const s = span(g);
  if (!s) {
    box.replaceChildren(el('p', {}, `Run ${g.run.run_id} (${stateName(g.run.state)}) has not started a task yet.`));
    info.textContent = '';
    return;
  }
  info.textContent = `run ${g.run.run_id}: ${stateName(g.run.state)}, from ${fmtDate(new Date(s.lo).toISOString())}, ${fmtDuration((s.hi - s.lo) / 1000)}`;
  const ticks = axisTicks(s.lo, s.hi);
  const pos = (t) => `${((t - s.lo) / (s.hi - s.lo)) * 100}%`;
  const lines = el('div', { class: 'lines', 'aria-hidden': 'true' }, ...ticks.map((t) => {
    const line = el('span');
    line.style.left = pos(t);
    return line;
  }));
  const axis = el('div', { class: 'row axis', 'aria-hidden': 'true' }, el('div', { class: 'label muted' }, 'Time (offset)'),
    el('div', { class: 'track' }, ...ticks.map((t) => tick(t, s, pos, ticks.step < 1000))));
  box.replaceChildren(lines, axis, ...g.tasks.map((task) => row(g, task, s, pos)));
}

function tick(t, s, pos, ms) {
  const node = el('span', { class: 'tick', 'data-time': new Date(t).toISOString() },
    clock(t, ms), el('br'), el('span', { class: 'offset' }, `+${fmtDuration((t - s.lo) / 1000)}`));
  const x = (t - s.lo) / (s.hi - s.lo);
  node.style.left = pos(t);
  node.style.transform = x < 0.04 ? 'none' : x > 0.96 ? 'translateX(-100%)' : 'translateX(-50%)';
  return node;
}

const pad = (n) => String(n).padStart(2, '0');
/** clock is a time of day in the browser's zone, to the second (or the millisecond). */
function clock(t, withMs = false) {
  const d = new Date(t);
  const sec = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${sec}.${String(d.getMilliseconds()).padStart(3, '0')}` : sec;
}

// steps are the tick spacings tried, in seconds, smallest first.
const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  172800, 604800];

/**
 * axisTicks places 3 to 8 ticks on round times within [lo, hi] (a span of
 * at least a second) and returns them with their step in ms.
 */
function axisTicks(lo, hi) {
  const step = (steps.find((st) => (hi - lo) / (st * 1000) <= 8) ?? steps[steps.length - 1]) * 1000;
  const zone = new Date(lo).getTimezoneOffset() * 60000; // round in local time
  const out = [];
  for (let t = Math.ceil((lo - zone) / step) * step + zone; t <= hi; t += step) out.push(t);
  out.step = step;
  return out;
}

// nameOf is a row's task as the Gantt labels it: an instance of a mapped
// task with its map index, as "task [N]".
const nameOf = (task) => (task.map_index >= 0 ? `${task.task_id} [${task.map_index}]` : task.task_id);
// hrefOf is the page of a row's task instance, with more of its query.
const hrefOf = (g, task, more) => tiHref(g.dag_id, g.run.run_id, task.task_id) +
  (task.map_index >= 0 ? `?map_index=${task.map_index}${more ? `&${more}` : ''}` : more ? `?${more}` : '');

function row(g, task, s, pos) {
  const href = hrefOf(g, task, '');
  const track = el('div', { class: 'track' });
  const ran = task.tries.filter((t) => t.start_date);
  for (const t of ran) track.append(bar(g, task, t, s, pos));
  if (!ran.length) {
    track.append(el('span', { class: 'not-run', 'data-task': task.task_id },
      el('span', { class: `state ${stateClass(task.state)}`, 'aria-hidden': 'true' }), notRun(task)));
  }
  const unknown = task.tries.length - ran.length;
  return el('div', { class: 'row', 'data-task': task.task_id },
    el('div', { class: 'label' }, el('a', { href }, nameOf(task)),
      unknown ? el('span', { class: 'muted' }, ` (${unknown} tr${unknown > 1 ? 'ies' : 'y'} without times)`) : ''),
    track);
}

/** notRun says why a row has no bar. */
function notRun(task) {
  switch (task.state) {
    case 'skipped': case 'upstream_failed': case 'removed':
      return `${stateName(task.state)}: did not run`;
    case '': case 'none': case 'scheduled': case 'queued':
      return `${stateName(task.state)}: not started yet`;
    default:
      return `${stateName(task.state)}: no try with known times`;
  }
}

function bar(g, task, t, s, pos) {
  const start = ms(t.start_date), end = ms(t.end_date) ?? s.now;
  const label = `${nameOf(task)}, try ${t.try} of ${task.try_number}: ${stateName(t.state)}, ` +
    `${clock(start)} → ${t.end_date ? clock(end) : 'now'} (${fmtDuration((end - start) / 1000)})`;
  const node = el('a', { class: `bar ${stateClass(t.state)}`, href: hrefOf(g, task, `try=${t.try}`),
    title: label, 'aria-label': label, 'data-task': task.task_id, 'data-try': String(t.try), 'data-state': t.state },
  task.try_number > 1 ? `#${t.try}` : '');
  node.style.left = pos(start);
  node.style.width = `${(Math.max(end - start, 0) / (s.hi - s.lo)) * 100}%`;
  return node;
}

runSel.addEventListener('change', () => {
  const u = new URL(location.href);
  if (runSel.value) u.searchParams.set('run_id', runSel.value); else u.searchParams.delete('run_id');
  history.replaceState(null, '', u);
  load();
});
header().then(() => { loadRuns().catch(console.error); live(load); dagSummary().catch(() => {}); });
