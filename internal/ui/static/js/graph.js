// The graph: the DAG's tasks laid out by elkjs (vendored, window.ELK),
// coloured by their state in the chosen run, each node a link to its task
// instance. Each task group is a box around its tasks, collapsed to one
// node (coloured by its most severe state) on a click and expanded on
// another. States update live; the layout is computed again only when
// the tasks or the collapsed groups change.
import { api, el, enc, live, header, legend, page, dagSummary, stateName, tiHref, fmtDate } from './common.js';

const box = document.getElementById('graph');
const runSel = document.getElementById('graph-run');
const list = document.getElementById('graph-list');
const elk = new window.ELK();
let layoutKey = '', nodes = new Map(), groupNodes = new Map(), current = null;
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
  const key = JSON.stringify([g.tasks.map((t) => [t.id, t.depends_on || [], t.group || '']), g.groups, [...collapsed]]);
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

// collapsed are the groups drawn as one node (a click on a group's box or
// node toggles it, as in Airflow's graph); every group starts expanded.
const collapsed = new Set();

// shownAs returns the node that stands for a task: its own, or the
// outermost collapsed group holding it.
function shownAs(g) {
  const parent = new Map(g.groups.map((x) => [x.id, x.parent || '']));
  const groupOf = new Map(g.tasks.map((t) => [t.id, t.group || '']));
  return (id) => {
    let out = `t:${id}`;
    for (let p = groupOf.get(id); p; p = parent.get(p)) if (collapsed.has(p)) out = `g:${p}`;
    return out;
  };
}

const nodeWidth = (label) => Math.max(90, label.length * 7.2 + 24);
const groupPadding = '[top=30,left=12,bottom=12,right=12]';

// elkGraph is the graph elkjs lays out: a task is a node, an expanded
// group a node holding its tasks and groups, a collapsed one a node of
// its own; a dependency between tasks drawn inside a collapsed group goes
// to or from the group's node, once.
function elkGraph(g) {
  const kids = new Map([['', []]]);
  for (const gr of g.groups) kids.set(gr.id, []);
  for (const gr of g.groups) kids.get(gr.parent || '').push({ group: gr });
  for (const t of g.tasks) (kids.get(t.group || '') || kids.get('')).push({ task: t });
  const build = (item) => {
    if (item.task) return { id: `t:${item.task.id}`, width: nodeWidth(short(item.task)) + (item.task.counts ? 48 : 0), height: 32 };
    const gr = item.group;
    if (collapsed.has(gr.id)) return { id: `g:${gr.id}`, width: nodeWidth(gr.label) + 20, height: 36 };
    return { id: `g:${gr.id}`, layoutOptions: { 'elk.padding': groupPadding }, children: kids.get(gr.id).map(build) };
  };
  const ids = new Set(g.tasks.map((t) => t.id));
  const node = shownAs(g);
  const edges = new Map();
  for (const t of g.tasks) {
    for (const u of (t.depends_on || []).filter((x) => ids.has(x))) {
      const from = node(u), to = node(t.id);
      if (from !== to && !edges.has(`${from}\u0000${to}`)) edges.set(`${from}\u0000${to}`, { id: `${from}\u0000${to}`, sources: [from], targets: [to] });
    }
  }
  return {
    id: 'root',
    layoutOptions: { 'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '50', 'elk.spacing.nodeNode': '18',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN', 'elk.json.shapeCoords': 'ROOT', 'elk.json.edgeCoords': 'ROOT' },
    children: kids.get('').map(build),
    edges: [...edges.values()],
  };
}

// short is a task's id without its group's prefix, as drawn in its box.
const short = (t) => (t.group && t.id.startsWith(`${t.group}.`) ? t.id.slice(t.group.length + 1) : t.id);

async function layout(g) {
  const res = await elk.layout(elkGraph(g));
  const svg = el('svg', { svg: true, xmlns: 'http://www.w3.org/2000/svg', width: res.width + 20, height: res.height + 20,
    viewBox: `-10 -10 ${res.width + 20} ${res.height + 20}`, role: 'img', 'aria-label': `graph of ${g.tasks.length} tasks` });
  const groups = new Map(g.groups.map((x) => [x.id, x]));
  const tasks = new Map(g.tasks.map((t) => [t.id, t]));
  nodes = new Map();
  groupNodes = new Map();
  const boxes = el('g', { svg: true, class: 'groups' });
  const leaves = el('g', { svg: true, class: 'nodes' });
  const walk = (list) => {
    for (const n of list || []) {
      if (n.id.startsWith('g:')) drawGroup(groups.get(n.id.slice(2)), n, n.children ? boxes : leaves);
      else drawTask(tasks.get(n.id.slice(2)), n, leaves);
      walk(n.children);
    }
  };
  walk(res.children);
  svg.append(boxes);
  for (const e of res.edges || []) {
    for (const s of e.sections || []) {
      const pts = [s.startPoint, ...(s.bendPoints || []), s.endPoint];
      svg.append(el('path', { svg: true, d: 'M' + pts.map((p) => `${p.x},${p.y}`).join(' L'), 'marker-end': 'url(#arrow)' }));
    }
  }
  svg.append(leaves);
  svg.append(el('defs', { svg: true }, el('marker', { svg: true, id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { svg: true, d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  const focus = document.activeElement?.dataset?.group;
  box.replaceChildren(svg);
  if (focus) box.querySelector(`[data-group="${CSS.escape(focus)}"]`)?.focus();
}

// drawTask draws a task's node; a mapped task's is a stack of cards,
// its count of instances in the run after its id.
function drawTask(t, n, into) {
  const rect = el('rect', { svg: true, x: n.x, y: n.y, width: n.width, height: n.height, rx: 5 });
  const text = el('text', { svg: true, x: n.x + 10, y: n.y + 20 }, short(t));
  const title = el('title', { svg: true });
  const stack = t.counts ? [6, 3].map((d) => el('rect', { svg: true, class: 'stack', x: n.x + d, y: n.y - d,
    width: n.width, height: n.height, rx: 5 })) : [];
  const a = el('a', { svg: true, href: '#', 'data-task': t.id, ...(t.counts ? { 'data-mapped': 'true' } : {}) }, title, ...stack, rect, text);
  into.append(a);
  nodes.set(t.id, { a, rect, text, title });
}

// drawGroup draws a group: an expanded one as a box around its tasks with
// its label at the top, a collapsed one as a node; either toggles on a
// click, Enter or Space, and its tooltip names it.
function drawGroup(gr, n, into) {
  const open = !collapsed.has(gr.id);
  const rect = el('rect', { svg: true, x: n.x, y: n.y, width: n.width, height: n.height, rx: open ? 8 : 5 });
  const text = el('text', { svg: true, x: n.x + 10, y: n.y + (open ? 19 : 22) }, `${open ? '▾' : '▸'} ${gr.label}`);
  const title = el('title', { svg: true }, gr.tooltip ? `${gr.id}: ${gr.tooltip}` : `task group ${gr.id}`);
  const node = el('g', { svg: true, class: open ? 'group open' : 'group closed', 'data-group': gr.id, tabindex: 0, role: 'button',
    'aria-expanded': String(open), 'aria-label': `task group ${gr.id}${gr.tooltip ? `: ${gr.tooltip}` : ''}, ${open ? 'expanded' : 'collapsed'}`,
    onclick: () => toggleGroup(gr.id),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggleGroup(gr.id); } } },
  title, rect, text);
  into.append(node);
  groupNodes.set(gr.id, { node, rect, text, title });
}

async function toggleGroup(id) {
  if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
  if (current) await load();
}

const darkStates = new Set(['success', 'failed']);
function colour(g) {
  const run = g.runs[0];
  const items = [];
  g.tasks.forEach((t, i) => {
    const state = run ? g.states[g.cells[0][i]] : '';
    const n = nodes.get(t.id);
    const count = t.counts && run ? t.counts[0] : -1;
    const label = t.counts ? `${t.id} (mapped, ${count >= 0 ? `${count} instances` : 'not expanded'}): ${stateName(state)}`
      : `${t.id}: ${stateName(state)}`;
    const href = run ? tiHref(g.dag_id, run.run_id, t.id) : `/dags/${enc(g.dag_id)}`;
    items.push(el('li', {}, el('a', { href }, label), t.group ? ` in group ${t.group}` : '',
      t.depends_on && t.depends_on.length ? ` (after ${t.depends_on.join(', ')})` : ''));
    if (!n) return;
    n.rect.style.fill = `var(--s-${state || 'none'})`;
    n.text.style.fill = darkStates.has(state) ? '#fff' : '#000';
    n.a.dataset.state = state || 'none';
    if (t.counts) {
      n.text.textContent = `${short(t)} [${count >= 0 ? count : ' '}]`;
      n.a.dataset.count = String(count);
    }
    n.title.textContent = label;
    n.a.setAttribute('aria-label', label);
    n.a.setAttribute('href', href);
  });
  g.groups.forEach((gr, i) => {
    const n = groupNodes.get(gr.id);
    const state = run ? g.states[g.group_cells[0][i]] : '';
    if (!n) return;
    n.node.dataset.state = state || 'none';
    if (collapsed.has(gr.id)) {
      n.rect.style.fill = `var(--s-${state || 'none'})`;
      n.text.style.fill = darkStates.has(state) ? '#fff' : '#000';
    }
    n.title.textContent = `${gr.tooltip ? `${gr.id}: ${gr.tooltip}` : `task group ${gr.id}`} (${stateName(state)})`;
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
