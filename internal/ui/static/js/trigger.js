// The trigger form, generated from the DAG's params: a field per param with
// its type, enum, default and description. The server validates (the DAG's
// params check); its errors are shown next to the fields they name.
import { api, el, enc, header, can, announce, page, dagSummary, fieldError, clearFieldErrors, showError } from './common.js';

const form = document.getElementById('trigger-form');
const box = document.getElementById('params');
const formError = document.getElementById('form-error');
let params = {};

function field(name, p) {
  const schema = p.schema || {}, type = schema.type || '';
  const id = `f-param-${name}`, errId = `e-param.${name}`, descId = `d-param-${name}`;
  const common = { id, name: `param.${name}`, 'data-param': name, 'data-type': type,
    'aria-describedby': [p.description ? descId : '', errId].filter(Boolean).join(' ') };
  let input;
  const def = p.value;
  if (Array.isArray(schema.enum) && schema.enum.length) {
    input = el('select', common, ...schema.enum.map((v) => el('option', { value: JSON.stringify(v), selected: JSON.stringify(v) === JSON.stringify(def) }, String(v))));
  } else if (type === 'boolean') {
    input = el('input', { ...common, type: 'checkbox', checked: def === true });
  } else if (type === 'array' || type === 'object') {
    input = el('textarea', { ...common, rows: 3 });
    input.value = def === null || def === undefined ? '' : JSON.stringify(def, null, 2);
  } else {
    input = el('input', { ...common, type: 'text', inputmode: type === 'integer' || type === 'number' ? 'decimal' : undefined });
    input.value = def === null || def === undefined ? '' : (typeof def === 'string' ? def : JSON.stringify(def));
  }
  const label = el('label', { for: id }, name, type ? el('span', { class: 'muted' }, ` (${type})`) : '');
  return el('div', { class: type === 'boolean' ? 'field check' : 'field' }, label, input,
    p.description ? el('p', { class: 'hint', id: descId }, p.description) : null,
    el('p', { class: 'error', id: errId, hidden: true }));
}

// valueOf reads a field as the JSON value to send; a value the browser can
// tell is malformed (bad JSON) is an error shown at once, the rest is the
// server's to judge.
function valueOf(input) {
  const type = input.dataset.type;
  if (input.tagName === 'SELECT') return JSON.parse(input.value);
  if (type === 'boolean') return input.checked;
  const raw = input.value;
  if (type === 'array' || type === 'object') {
    if (raw.trim() === '') return undefined;
    try { return JSON.parse(raw); } catch { throw new Error(`not valid JSON (expected ${type === 'array' ? 'a list' : 'an object'})`); }
  }
  if ((type === 'integer' || type === 'number') && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw);
  if (raw === '' && type !== 'string' && type !== '') return undefined;
  return raw;
}

async function submit(e) {
  e.preventDefault();
  clearFieldErrors(form);
  showError(formError, null);
  const conf = {};
  let bad = false;
  for (const input of form.querySelectorAll('[data-param]')) {
    try {
      const v = valueOf(input);
      if (v !== undefined) conf[input.dataset.param] = v;
    } catch (err) {
      fieldError(form, input.name, err.message);
      bad = true;
    }
  }
  if (bad) { focusFirstError(); return; }
  const body = { conf };
  const runId = form.elements.dag_run_id.value.trim(), date = form.elements.logical_date.value.trim();
  if (runId) body.dag_run_id = runId;
  if (date) body.logical_date = date;
  const button = document.getElementById('trigger-submit');
  button.disabled = true;
  try {
    const run = await api(`/api/v1/dags/${enc(page.dagId)}/dagRuns`, { method: 'POST', body });
    announce(`run ${run.dag_run_id} queued`);
    location.assign(`/dags/${enc(page.dagId)}?run_id=${enc(run.dag_run_id)}`);
  } catch (err) {
    button.disabled = false;
    showErrors(err);
  }
}

// showErrors puts the API's problem next to the field it names: a param's
// (conf: param "x": ...; one line per param), the run id's or the date's.
function showErrors(err) {
  let placed = false;
  if (err.field === 'conf') {
    const re = /param "([^"]+)": ([^\n]+)/g;
    for (const m of (err.message || '').matchAll(re)) placed = fieldError(form, `param.${m[1]}`, m[2]) || placed;
  } else if (err.field) {
    placed = fieldError(form, err.field, err.message);
    if (placed) form.querySelector('details').open = true;
  }
  if (!placed) showError(formError, err);
  focusFirstError();
}

function focusFirstError() {
  const bad = form.querySelector('[aria-invalid="true"]');
  if (bad) bad.focus(); else formError.focus?.();
}

async function init() {
  const who = await header();
  const d = await dagSummary();
  params = d.params || {};
  const names = Object.keys(params).sort();
  box.replaceChildren(...(names.length ? names.map((n) => field(n, params[n])) : [el('p', { class: 'muted' }, 'This DAG has no params.')]));
  if (!can(who.role, 'trigger')) {
    document.getElementById('trigger-submit').disabled = true;
    showError(formError, new Error(`Your role (${who.role}) may not trigger runs.`));
  }
  form.dataset.ready = 'true';
}

form.addEventListener('submit', submit);
init().catch((err) => showError(formError, err));
