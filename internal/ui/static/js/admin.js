// What the admin pages share: a list table fed by a REST collection, an
// edit form that shows the API's errors next to its fields, delete with a
// confirmation, all hidden or disabled when the role may not write.
import { api, el, header, can, confirmDialog, announce, showError, fieldError, clearFieldErrors, showFieldErrors,
  refusal } from './common.js';

/**
 * crud runs an admin page. spec: {action (role check), noun (what a row
 * is: "pool"), path (collection), key (the collection's field), id (row
 * -> id), cells (row -> cells), fill (form, row|null), check (form,
 * creating) -> [{field, message}] (what the browser can tell is wrong,
 * all of it), body (form, creating) -> JSON, change (body, row|null) ->
 * what the save does, for its confirmation, rowButtons (row) -> extra
 * buttons}.
 */
export async function crud(spec) {
  const who = await header();
  const tbody = document.querySelector('#list tbody');
  const form = document.getElementById('edit');
  const pageError = document.getElementById('page-error');
  const formError = document.getElementById('form-error');
  const addBtn = document.getElementById('add');
  const mayWrite = can(who.role, spec.action);
  let editing = null;
  addBtn.hidden = !mayWrite;

  async function load() {
    try {
      const res = await api(`${spec.path}?limit=1000`);
      const rows = res[spec.key] || [];
      tbody.replaceChildren(...(rows.length ? rows.map(row) : [el('tr', {}, el('td', { colspan: 9 }, 'None yet.'))]));
      showError(pageError, null);
    } catch (err) {
      tbody.replaceChildren();
      showError(pageError, err.status === 403 ? new Error(refusal(who.role, 'see this page', err)) : err);
    }
    document.body.dataset.ready = 'true';
  }

  function row(r) {
    const id = spec.id(r);
    const buttons = [...(spec.rowButtons ? spec.rowButtons(r, mayWrite) : [])];
    if (mayWrite && r.source !== 'env') {
      buttons.push(el('button', { type: 'button', class: 'secondary small', onclick: () => open(r), 'aria-label': `Edit ${id}` }, 'Edit'),
        el('button', { type: 'button', class: 'danger small', onclick: () => remove(id), 'aria-label': `Delete ${id}` }, 'Delete'));
    }
    return el('tr', { 'data-id': id }, ...spec.cells(r).map((c) => el('td', {}, c)), el('td', { class: 'actions' }, buttons));
  }

  async function open(r) {
    editing = r;
    clearFieldErrors(form);
    showError(formError, null);
    form.reset();
    await spec.fill(form, r);
    form.hidden = false;
    form.querySelector('input:not([readonly]), textarea').focus();
  }

  async function save(e) {
    e.preventDefault();
    clearFieldErrors(form);
    showError(formError, null);
    const creating = editing === null;
    if (spec.check && showFieldErrors(form, spec.check(form, creating), formError)) return;
    let body;
    try { body = spec.body(form, creating); } catch (err) {
      if (!err.field || !fieldError(form, err.field, err.message)) showError(formError, err);
      return;
    }
    const id = creating ? body[spec.idField] ?? '' : spec.id(editing);
    const what = spec.change ? spec.change(body, editing) : 'The change is saved at once.';
    if (!await confirmDialog(creating ? `Add ${spec.noun} ${id}?` : `Save ${spec.noun} ${id}?`, what, creating ? 'Add' : 'Save')) return;
    const path = creating ? spec.path : `${spec.path}/${encodeURIComponent(spec.id(editing))}`;
    try {
      await api(path, { method: creating ? 'POST' : 'PATCH', body });
      form.hidden = true;
      announce('saved');
      addBtn.focus();
      await load();
    } catch (err) {
      if (!err.field || !fieldError(form, err.field, err.message)) showError(formError, err);
    }
  }

  async function remove(id) {
    if (!await confirmDialog(`Delete ${id}?`, 'This cannot be undone.', 'Delete')) return;
    try {
      await api(`${spec.path}/${encodeURIComponent(id)}`, { method: 'DELETE', body: {} });
      announce(`${id} deleted`);
      await load();
    } catch (err) { showError(pageError, err); }
  }

  addBtn.addEventListener('click', () => open(null));
  form.addEventListener('submit', save);
  document.getElementById('cancel').addEventListener('click', () => { form.hidden = true; addBtn.focus(); });
  await load();
  return { load, who };
}

/** required lists an error for each named field left empty. */
export const required = (form, ...names) => names.filter((n) => val(form, n) === undefined)
  .map((field) => ({ field, message: 'Required.' }));

/** val reads a form field, trimmed; empty is undefined. */
export const val = (form, name) => {
  const v = form.elements[name].value.trim();
  return v === '' ? undefined : v;
};

/** readOnlyAPI lists a collection that may not exist (the auth helper's endpoints). */
export async function listOrUnavailable(path, key, what, render) {
  const who = await header();
  const note = document.getElementById('unavailable');
  const tbody = document.querySelector('#list tbody');
  try {
    const res = await api(path);
    render(tbody, res[key] || [], res);
  } catch (err) {
    tbody.replaceChildren();
    note.hidden = false;
    if (err.status === 404) note.textContent = `${what} are not available: this server has no user management (no auth). Everyone is an anonymous Admin.`;
    else if (err.status === 403) note.textContent = refusal(who.role, `see ${what.toLowerCase()}`, err);
    else note.textContent = `${what} could not be loaded: ${err.message}`;
  }
  document.body.dataset.ready = 'true';
}
