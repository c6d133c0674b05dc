// Users: the auth server's /api/v1/users when it answers, else a clear
// "not available".
import { el, fmtDate } from './common.js';
import { listOrUnavailable } from './admin.js';

listOrUnavailable('/api/v1/users?limit=1000', 'users', 'Users', (tbody, users) => {
  tbody.replaceChildren(...users.map((u) => el('tr', { 'data-user': u.username }, el('td', {}, u.username),
    el('td', {}, u.role || (u.roles || []).map((r) => r.name || r).join(', ')),
    el('td', {}, fmtDate(u.created_at || u.created_on)), el('td', {}, fmtDate(u.changed_on)))));
});
