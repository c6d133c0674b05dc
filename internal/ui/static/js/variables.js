// Variables: list (values of sensitive keys come back as *** from the API
// and are never filled into the form), add, edit, delete.
import { crud, required, val } from './admin.js';

crud({
  action: 'variables', noun: 'variable', idField: 'key', path: '/api/v1/variables', key: 'variables', id: (v) => v.key,
  check: (form, creating) => (creating ? required(form, 'key') : []),
  change: (b, v) => (v ? 'Its value and description are replaced; runs read the new value from now on.' : 'Runs can read it from now on.'),
  cells: (v) => [v.key, v.value, v.description || ''],
  fill: (form, v) => {
    form.elements.key.readOnly = !!v;
    if (!v) return;
    form.elements.key.value = v.key;
    form.elements.value.value = v.value === '***' ? '' : v.value;
    form.elements.value.placeholder = v.value === '***' ? 'sensitive: type a new value to replace it' : '';
    form.elements.description.value = v.description || '';
  },
  body: (form, creating) => {
    const b = { key: val(form, 'key') ?? '', value: form.elements.value.value, description: val(form, 'description') ?? '' };
    if (!creating && b.value === '' && form.elements.value.placeholder) {
      const err = new Error('type the new value of this sensitive variable (its current one is never shown)');
      err.field = 'value';
      throw err;
    }
    return b;
  },
});
