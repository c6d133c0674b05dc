// Pools: list with their slots in use, add, resize, delete.
import { crud, val } from './admin.js';

crud({
  action: 'pools', path: '/api/v1/pools', key: 'pools', id: (p) => p.name,
  cells: (p) => [p.name, String(p.slots), String(p.running_slots), String(p.queued_slots), String(p.open_slots), p.description || ''],
  fill: (form, p) => {
    form.elements.name.readOnly = !!p;
    if (!p) return;
    form.elements.name.value = p.name;
    form.elements.slots.value = p.slots;
    form.elements.description.value = p.description || '';
  },
  body: (form, creating) => {
    const slots = val(form, 'slots');
    const b = { slots: slots === undefined ? undefined : Number(slots), description: val(form, 'description') ?? '' };
    if (creating) b.name = val(form, 'name') ?? '';
    return b;
  },
});
