// The graph: the DAG's tasks laid out by elkjs (vendored, window.ELK),
// coloured by their state in the chosen run, each node a link to its task
// instance. States update live; the layout is computed again only when
// the tasks change.
import { api, el, enc, live, header, legend, page, dagSummary, stateName, tiHref, fmtDate } from './common.js';

const box = document.getElementById('graph');
const runSel = document.getElementById('graph-run');
const list = document.getElementById('graph-list');
const elk = new window.ELK();
let layoutKey = '', nodes = new Map(), current = null;
runSel.value = new URLSearchParams(location.search).get('run_id') || '';

async function loadRuns() {
  const res = await api(`/api/v1/dags/${enc(page.dagId)}/dagRuns?limit=25`);
  const want = new URLSearchParams(location.search).get('run_id') || runSel.value;
  runSel.replaceChildren(el('option', { value: '' }, 'Latest run'),
    ...res.dag_runs.map((r) => el('option', { value: r.dag_run_id }, `${r.dag_run_id} (${stateName(r.state)})`)));
  if (want && res.dag_runs.some((r) => r.dag_run_id === want)) runSel.value = want;
}

async function load() {
  const run = runSel.value;
  const g = await api(`/ui/api/grid?dag_id=${enc(page.dagId)}&limit=1${run ? `&run_id=${enc(run)}` : ''}`);
  current = g;
  const key = JSON.stringify(g.tasks.map((t) => [t.id, t.depends_on || []]));
  if (key !== layoutKey) {
    layoutKey = key;
    await layout(g);
  }
  colour(g);
  const r = g.runs[0];
  document.getElementById('graph-info').textContent = r
    ? `run ${r.run_id} (${fmtDate(r.logical_date)}): ${stateName(r.state)}` : 'no run yet';
  box.dataset.ready = 'true';
}

async function layout(g) {
  const ids = new Set(g.tasks.map((t) => t.id));
  const graph = {
    id: 'root',
    layoutOptions: { 'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '50', 'elk.spacing.nodeNode': '18' },
    children: g.tasks.map((t) => ({ id: t.id, width: Math.max(90, t.id.length * 7.2 + 24), height: 32 })),
    edges: g.tasks.flatMap((t) => (t.depends_on || []).filter((u) => ids.has(u))
      .map((u) => ({ id: `${u}\u0000${t.id}`, sources: [u], targets: [t.id] }))),
  };
  const res = await elk.layout(graph);
  const svg = el('svg', { svg: true, xmlns: 'http://www.w3.org/2000/svg', width: res.width + 20, height: res.height + 20,
    viewBox: `-10 -10 ${res.width + 20} ${res.height + 20}`, role: 'img', 'aria-label': `graph of ${g.tasks.length} tasks` });
  for (const e of res.edges || []) {
    for (const s of e.sections || []) {
      const pts = [s.startPoint, ...(s.bendPoints || []), s.endPoint];
      svg.append(el('path', { svg: true, d: 'M' + pts.map((p) => `${p.x},${p.y}`).join(' L'), 'marker-end': 'url(#arrow)' }));
    }
  }
  svg.append(el('defs', { svg: true }, el('marker', { svg: true, id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { svg: true, d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  nodes = new Map();
  for (const n of res.children) {
    const rect = el('rect', { svg: true, x: n.x, y: n.y, width: n.width, height: n.height, rx: 5 });
    const text = el('text', { svg: true, x: n.x + 10, y: n.y + 20 }, n.id);
    const title = el('title', { svg: true });
    const a = el('a', { svg: true, href: '#', 'data-task': n.id }, title, rect, text);
    svg.append(a);
    nodes.set(n.id, { a, rect, text, title });
  }
  box.replaceChildren(svg);
}

const darkStates = new Set(['success', 'failed']);
function colour(g) {
  const run = g.runs[0];
  const items = [];
  g.tasks.forEach((t, i) => {
    const state = run ? g.states[g.cells[0][i]] : '';
    const n = nodes.get(t.id);
    if (!n) return;
    n.rect.style.fill = `var(--s-${state || 'none'})`;
    n.text.style.fill = darkStates.has(state) ? '#fff' : '#000';
    n.a.dataset.state = state || 'none';
    const label = `${t.id}: ${stateName(state)}`;
    n.title.textContent = label;
    n.a.setAttribute('aria-label', label);
    n.a.setAttribute('href', run ? tiHref(g.dag_id, run.run_id, t.id) : `/dags/${enc(g.dag_id)}`);
    items.push(el('li', {}, el('a', { href: n.a.getAttribute('href') }, label),
      t.depends_on && t.depends_on.length ? ` (after ${t.depends_on.join(', ')})` : ''));
  });
  list.replaceChildren(...items);
}

runSel.addEventListener('change', () => {
  const u = new URL(location.href);
  if (runSel.value) u.searchParams.set('run_id', runSel.value); else u.searchParams.delete('run_id');
  history.replaceState(null, '', u);
  load();
});
legend(document.getElementById('legend'));
header().then(() => { loadRuns().catch(console.error); live(async () => { await load(); }); dagSummary().catch(() => {}); });
