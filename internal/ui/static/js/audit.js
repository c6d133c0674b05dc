// Audit log: the auth server's /api/v1/eventLogs (Airflow's shape) when it
// answers, newest first, a page at a time; else a clear "not available".
// An entry's event is the route it called ("POST /api/v1/dags/{dag_id}/
// dagRuns"): it shows as its method and a short path, with the DAG, run
// and task it concerns, the tasks a clear names and any other id.
import { el, fmtDate } from './common.js';
import { listOrUnavailable } from './admin.js';

let offset = 0;
const more = document.getElementById('more');

/** own are the keys of extra the auth middleware writes itself (shown in their own columns, or not at all). */
const own = new Set(['method', 'path', 'status', 'auth', 'query', 'remote_addr', 'task_ids', 'task_count']);

// extraOf is an entry's extra as an object (a string in entries written
// before it was one).
const extraOf = (e) => (e.extra && typeof e.extra === 'object') ? e.extra : {};

/** what shows an event: "POST" and the route's path without /api/v1, or the event as written. */
function what(e) {
  const m = /^([A-Z]+) (\/\S*)$/.exec(e.event || '');
  if (!m) return el('span', {}, e.event || '');
  const path = m[2].replace(/^\/api\/v1(?=\/)/, '');
  const x = extraOf(e);
  return el('span', { class: 'route', title: x.path && x.path !== m[2] ? `${e.event}\n${x.path}` : e.event },
    el('span', { class: 'method' }, m[1]), ' ', el('code', {}, path));
}

/** object shows the DAG, run and task an entry concerns, the tasks it names, and any other id. */
function object(e) {
  const x = extraOf(e);
  const lines = [];
  const ids = [['DAG', e.dag_id], ['run', e.run_id], ['task', e.task_id]].filter(([, v]) => v);
  if (ids.length) lines.push(ids.map(([k, v]) => `${k} ${v}`).join(' · '));
  if (Array.isArray(x.task_ids) && x.task_ids.length) {
    const rest = (x.task_count ?? x.task_ids.length) - x.task_ids.length;
    lines.push(`tasks: ${x.task_ids.join(', ')}${rest > 0 ? ` (and ${rest} more)` : ''}`);
  }
  for (const [k, v] of Object.entries(x)) {
    if (!own.has(k) && v !== null && typeof v !== 'object') lines.push(`${k}: ${v}`);
  }
  return el('span', { class: 'object' }, ...lines.flatMap((l, i) => [i ? el('br') : null, l]));
}

function load() {
  return listOrUnavailable(`/api/v1/eventLogs?limit=100&offset=${offset}&order_by=-when`, 'event_logs', 'Audit log entries', (tbody, logs, res) => {
    const rows = logs.map((e) => el('tr', { 'data-event': e.event || '' }, el('td', {}, fmtDate(e.when)),
      el('td', {}, e.owner || e.username || ''), el('td', {}, what(e)), el('td', {}, object(e)),
      el('td', {}, String(extraOf(e).status ?? '')),
      el('td', {}, extraOf(e).remote_addr || (typeof e.extra === 'string' ? e.extra : ''))));
    if (offset === 0) tbody.replaceChildren(...rows); else tbody.append(...rows);
    offset += logs.length;
    more.hidden = logs.length === 0 || offset >= (res.total_entries || 0);
  });
}

more.addEventListener('click', load);
load();
