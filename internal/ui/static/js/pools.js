// Pools: list with their slots in use, add, resize, delete.
import { crud, required, val } from './admin.js';

// maxSlots is the API's bound (PostgreSQL keeps slots in an integer).
const maxSlots = 2147483647;

crud({
  action: 'pools', noun: 'pool', idField: 'name', path: '/api/v1/pools', key: 'pools', id: (p) => p.name,
  cells: (p) => [p.name, String(p.slots), String(p.running_slots), String(p.queued_slots), String(p.open_slots), p.description || ''],
  fill: (form, p) => {
    form.elements.name.readOnly = !!p;
    if (!p) return;
    form.elements.name.value = p.name;
    form.elements.slots.value = p.slots;
    form.elements.description.value = p.description || '';
  },
  check: (form, creating) => {
    const errs = required(form, ...(creating ? ['name', 'slots'] : ['slots']));
    const slots = val(form, 'slots');
    if (slots !== undefined && !(/^\d+$/.test(slots) && Number(slots) <= maxSlots)) {
      errs.push({ field: 'slots', message: `Expected a whole number from 0 to ${maxSlots}, got "${slots}".` });
    }
    return errs;
  },
  change: (b, p) => (p
    ? `Slots ${p.slots} → ${b.slots}${b.description !== (p.description || '') ? '; the description changes' : ''}. Tasks queued for it are scheduled against the new size.`
    : `A pool of ${b.slots} slot${b.slots === 1 ? '' : 's'}; tasks name it in their pool field.`),
  body: (form, creating) => {
    const slots = val(form, 'slots');
    const b = { slots: slots === undefined ? undefined : Number(slots), description: val(form, 'description') ?? '' };
    if (creating) b.name = val(form, 'name') ?? '';
    return b;
  },
});
