// The trigger form, generated from the DAG's params: a field per param with
// its type, enum, default and description. What the browser can tell is
// wrong (bad JSON, not a number, a malformed run id or date) is shown at
// once, every field's error next to it; then the trigger is confirmed; the
// server validates again (the DAG's params check) and its errors are shown
// the same way.
import { api, el, enc, header, can, announce, confirmDialog, page, dagSummary, clearFieldErrors, showFieldErrors, showError } from './common.js';

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

// valueOf reads a field as the JSON value to send, or throws what the
// browser can tell is wrong with it (bad JSON, not a number); the rest is
// the server's to judge (the DAG's params check).
function valueOf(input) {
  const type = input.dataset.type;
  if (input.tagName === 'SELECT') return JSON.parse(input.value);
  if (type === 'boolean') return input.checked;
  const raw = input.value, t = raw.trim();
  if (t === '' && type !== 'string' && type !== '') return undefined;
  if (type === 'array' || type === 'object') {
    let v;
    try { v = JSON.parse(raw); } catch { throw new Error(`Not valid JSON (expected ${type === 'array' ? 'a list' : 'an object'}).`); }
    if (type === 'array' ? !Array.isArray(v) : (v === null || typeof v !== 'object' || Array.isArray(v))) {
      throw new Error(`Expected ${type === 'array' ? 'a list' : 'an object'}, got ${JSON.stringify(v)}.`);
    }
    return v;
  }
  if (type === 'integer' && !/^[+-]?\d+$/.test(t)) throw new Error(`Expected an integer, got "${raw}".`);
  if (type === 'number' && (Number.isNaN(Number(t)) || !/\d/.test(t))) throw new Error(`Expected a number, got "${raw}".`);
  if (type === 'integer' || type === 'number') return Number(t);
  return raw;
}

// runIDChars are what a run id may hold (Airflow's allowed_run_id_pattern,
// as the API checks it).
const runIDChars = /^[A-Za-z0-9_.~:+-]+$/;
const datePattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/i;

// checkRun lists what is wrong with the run id and the logical date.
function checkRun(runId, date) {
  const errs = [];
  if (runId) {
    if (runId.length > 250) errs.push({ field: 'dag_run_id', message: `At most 250 characters; this one has ${runId.length}.` });
    else if (!runIDChars.test(runId)) errs.push({ field: 'dag_run_id', message: 'Use letters, digits and _ . ~ : + - only.' });
    else if (/^\.+$/.test(runId)) errs.push({ field: 'dag_run_id', message: 'A run id cannot be only dots.' });
    else if (/^(scheduled|backfill)__/.test(runId)) errs.push({ field: 'dag_run_id', message: `"${runId.split('__')[0]}__" is reserved for the scheduler's runs.` });
  }
  if (date && !datePattern.test(date)) errs.push({ field: 'logical_date', message: `Expected YYYY-MM-DD or RFC 3339 (2026-01-31T12:00:00Z), got "${date}".` });
  return errs;
}

// readForm returns the request body and every error the browser can
// tell, all at once.
function readForm() {
  const conf = {}, errs = [];
  for (const input of form.querySelectorAll('[data-param]')) {
    try {
      const v = valueOf(input);
      if (v !== undefined) conf[input.dataset.param] = v;
    } catch (err) {
      errs.push({ field: input.name, message: err.message });
    }
  }
  const body = { conf };
  const runId = form.elements.dag_run_id.value.trim(), date = form.elements.logical_date.value.trim();
  errs.push(...checkRun(runId, date));
  if (runId) body.dag_run_id = runId;
  if (date) body.logical_date = date;
  return { body, errs };
}

// summary is what the confirmation says the run starts with.
function summary(body) {
  const keys = Object.keys(body.conf);
  const text = keys.length ? keys.map((k) => `${k} = ${JSON.stringify(body.conf[k])}`).join(', ') : 'no params';
  const clipped = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return `A ${body.logical_date ? `run for ${body.logical_date}` : 'run'}${body.dag_run_id ? ` with id ${body.dag_run_id}` : ''} starts with ${clipped}.`;
}

async function submit(e) {
  e.preventDefault();
  clearFieldErrors(form);
  showError(formError, null);
  const { body, errs } = readForm();
  if (errs.length) { showAll(errs); return; }
  if (!await confirmDialog(`Trigger ${page.dagId}?`, summary(body), 'Trigger')) return;
  const button = document.getElementById('trigger-submit');
  button.disabled = true;
  try {
    const run = await api(`/api/v1/dags/${enc(page.dagId)}/dagRuns`, { method: 'POST', body });
    announce(`run ${run.dag_run_id} queued`);
    location.assign(`/dags/${enc(page.dagId)}?run_id=${enc(run.dag_run_id)}`);
  } catch (err) {
    button.disabled = false;
    showAll(serverErrors(err));
  }
}

// serverErrors reads the API's problem as field errors: every param the
// conf's detail names (one line each: param "x": ...), or the field the
// problem names; else one error for the whole form.
function serverErrors(err) {
  if (err.field === 'conf') {
    const found = [...(err.message || '').matchAll(/param "([^"]+)": ([^\n]+)/g)]
      .map((m) => ({ field: `param.${m[1]}`, message: m[2] }));
    if (found.length) return found;
  }
  return [{ field: err.field || '', message: err.message }];
}

// showAll shows every error next to its field at once (the run id's and
// date's open their section), the rest above the form.
function showAll(errs) {
  if (errs.some((e) => e.field === 'dag_run_id' || e.field === 'logical_date')) form.querySelector('details').open = true;
  showFieldErrors(form, errs, formError);
  if (!form.querySelector('[aria-invalid="true"]')) formError.focus?.();
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
