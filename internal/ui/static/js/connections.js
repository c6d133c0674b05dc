// Connections: list, add, edit (the password is write-only), delete, and
// test (the connectivity check `sirocco connections test` runs).
import { api, el, enc, announce, showError } from './common.js';
import { crud, required, val } from './admin.js';

const report = document.getElementById('test-report');

async function test(id, button) {
  button.disabled = true;
  report.hidden = false;
  report.replaceChildren(el('h2', {}, `Testing ${id}…`));
  try {
    const r = await api(`/api/v1/connections/${enc(id)}/test`, { method: 'POST', body: {} });
    report.replaceChildren(el('h2', {}, `Test of ${id}: ${r.ok ? 'ok' : 'FAILED'}`),
      el('table', { class: 'list' }, el('thead', {}, el('tr', {}, ...['Step', 'Target', 'Outcome', 'Time', 'Detail'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...r.steps.map((s) => el('tr', { 'data-outcome': s.outcome }, el('td', {}, s.name), el('td', {}, s.target || ''),
          el('td', {}, s.outcome), el('td', {}, `${s.duration_ms.toFixed(1)} ms`), el('td', {}, s.detail || ''))))));
    announce(`test of ${id}: ${r.ok ? 'ok' : 'failed'}`);
  } catch (err) {
    report.replaceChildren(el('h2', {}, `Test of ${id}`));
    const p = el('p', { class: 'error' });
    showError(p, err);
    report.append(p);
  }
  button.disabled = false;
}

crud({
  action: 'connections', noun: 'connection', idField: 'connection_id', path: '/api/v1/connections', key: 'connections', id: (c) => c.connection_id,
  check: (form, creating) => {
    const errs = creating ? required(form, 'connection_id', 'conn_type') : [];
    const port = val(form, 'port');
    if (port !== undefined && !/^\d+$/.test(port)) errs.push({ field: 'port', message: `Expected a port number, got "${port}".` });
    return errs;
  },
  change: (b, c) => (c ? 'Tasks that use it get the new settings from their next try.' : 'Tasks can use it from their next try.'),
  cells: (c) => [c.connection_id, c.conn_type, c.host || '', c.port ?? '', c.login || '', c.source],
  rowButtons: (c, mayWrite) => [el('button', { type: 'button', class: 'small', disabled: !mayWrite,
    onclick: (e) => test(c.connection_id, e.target), 'aria-label': `Test ${c.connection_id}` }, 'Test')],
  fill: async (form, c) => {
    form.elements.connection_id.readOnly = !!c;
    if (!c) return;
    const full = await api(`/api/v1/connections/${enc(c.connection_id)}`);
    for (const k of ['connection_id', 'conn_type', 'host', 'login', 'schema', 'description']) form.elements[k].value = full[k] ?? '';
    form.elements.port.value = full.port ?? '';
    form.elements.extra.value = full.extra && full.extra !== '{}' ? full.extra : '';
  },
  body: (form, creating) => {
    const b = {};
    for (const k of ['connection_id', 'conn_type', 'host', 'login', 'schema', 'description']) {
      const v = val(form, k);
      if (v !== undefined || !creating) b[k] = v ?? '';
    }
    if (!creating) delete b.connection_id;
    const port = val(form, 'port');
    if (port !== undefined) b.port = Number(port);
    const pw = form.elements.password.value;
    if (pw) b.password = pw;
    const extra = val(form, 'extra');
    if (extra !== undefined) b.extra = extra;
    return b;
  },
});
