// Audit log: the auth server's /api/v1/eventLogs (Airflow's shape) when it
// answers, newest first, a page at a time; else a clear "not available".
import { el, fmtDate } from './common.js';
import { listOrUnavailable } from './admin.js';

let offset = 0;
const more = document.getElementById('more');

function load() {
  return listOrUnavailable(`/api/v1/eventLogs?limit=100&offset=${offset}&order_by=-when`, 'event_logs', 'Audit log entries', (tbody, logs, res) => {
    // The server keeps the request's address and answer in extra (an
    // object; a string in entries written before it was one).
    const extra = (e) => (e.extra && typeof e.extra === 'object') ? e.extra : {};
    const rows = logs.map((e) => el('tr', {}, el('td', {}, fmtDate(e.when)), el('td', {}, e.owner || e.username || ''),
      el('td', {}, e.event || ''), el('td', {}, [e.dag_id, e.run_id, e.task_id].filter(Boolean).join(' / ')),
      el('td', {}, String(extra(e).status ?? '')),
      el('td', {}, extra(e).remote_addr || (typeof e.extra === 'string' ? e.extra : ''))));
    if (offset === 0) tbody.replaceChildren(...rows); else tbody.append(...rows);
    offset += logs.length;
    more.hidden = logs.length === 0 || offset >= (res.total_entries || 0);
  });
}

more.addEventListener('click', load);
load();
