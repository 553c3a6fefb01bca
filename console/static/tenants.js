// The tenant list: search (by name or external reference: ?q=), status
// filter, cursor paging, and New tenant for admins.

import { get, call, describe, ApiError } from './api.js';
import * as live from './live.js';
import { h, replace, field, status, time, dialog, showFieldErrors, clearFieldErrors, debounce } from './dom.js';

const PAGE = 50;

export function tenantsPage(ctx) {
  const { main, admin } = ctx;
  const message = status();
  const search = field({ label: 'Search', name: 'search', type: 'search', hint: 'a part of the name or external reference' });
  const statusFilter = field({ label: 'Status', name: 'status', value: '',
    options: [['', 'Active and suspended'], ['active', 'Active'], ['suspended', 'Suspended'], ['deleted', 'Deleted']] });
  const body = h('tbody');
  const table = h('table', {},
    h('caption', { class: 'visually-hidden' }, 'Tenants'),
    h('thead', {}, h('tr', {}, ['Name', 'Status', 'Version', 'Phone numbers', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next');
  const pageInfo = h('span', { class: 'muted' });
  let cursors = ['']; // the cursor of each page seen, for Previous
  let items = [];
  let nextCursor = '';

  function render() {
    const q = search.input.value.trim();
    replace(body, items.length === 0
      ? h('tr', {}, h('td', { colspan: 5 }, q ? 'No tenant matches.' : 'No tenants.'))
      : items.map((t) => h('tr', { 'data-tenant-id': t.tenantId },
        h('td', {}, h('a', { href: `#/tenants/${t.tenantId}` }, t.name), t.externalRef ? h('span', { class: 'muted block' }, t.externalRef) : null),
        h('td', {}, h('span', { class: `badge ${t.status}` }, t.status)),
        h('td', {}, String(t.version)),
        h('td', {}, (t.whatsapp?.phoneNumbers || []).map((p) => p.displayPhoneNumber || p.phoneNumberId).join(', ') || '—'),
        h('td', {}, time(t.updatedAt)))));
    prev.disabled = cursors.length <= 1;
    next.disabled = !nextCursor;
    pageInfo.textContent = `Page ${cursors.length}`;
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (statusFilter.input.value) params.set('status', statusFilter.input.value);
    if (search.input.value.trim()) params.set('q', search.input.value.trim());
    const cursor = cursors[cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    try {
      const { data } = await get(`/api/tenants?${params}`);
      items = data.items || [];
      nextCursor = data.nextCursor || '';
      render();
    } catch (err) {
      message.say(`Could not load tenants: ${describe(err)}`, 'error');
    }
  }

  search.input.addEventListener('input', debounce(() => { cursors = ['']; load(); }, 250));
  statusFilter.input.addEventListener('change', () => { cursors = ['']; load(); });
  next.addEventListener('click', () => { if (nextCursor) { cursors.push(nextCursor); load(); } });
  prev.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(); } });

  const newButton = admin ? h('button', { type: 'button', onclick: (ev) => openCreate(ev.currentTarget) }, 'New tenant') : null;
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Tenants'), newButton),
    h('div', { class: 'filters' }, search, statusFilter),
    message,
    table,
    h('div', { class: 'pager' }, prev, pageInfo, next));
  load();
  // Another admin's change shows up without a reload.
  const reload = debounce(load, 200);
  const off = live.on((e) => { if (e.streamId?.startsWith('tenant-')) reload(); });
  return off;
}

/** rateLimitFields are the rate limit inputs of the create and edit forms. */
export function rateLimitFields(rl) {
  return [
    field({ label: 'Rate limit (per second)', name: 'settings.rateLimit.perSecond', type: 'number', value: rl?.perSecond ?? '', attrs: { min: 0, step: 'any' } }),
    field({ label: 'Rate limit burst', name: 'settings.rateLimit.burst', type: 'number', value: rl?.burst ?? '', attrs: { min: 0, step: 1 } }),
  ];
}

/** rateLimitOf reads the rate limit inputs: undefined when both are empty. */
export function rateLimitOf(form) {
  const ps = form.elements['settings.rateLimit.perSecond'].value;
  const b = form.elements['settings.rateLimit.burst'].value;
  if (ps === '' && b === '') return undefined;
  return { perSecond: ps === '' ? 0 : Number(ps), burst: b === '' ? 0 : Number(b) };
}

function openCreate(opener) {
  const message = status('status error');
  const form = h('form', { novalidate: true },
    field({ label: 'Name', name: 'name', required: true }),
    field({ label: 'External reference', name: 'externalRef' }),
    rateLimitFields(null),
    message,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Create'),
      h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel')));
  const dlg = dialog('New tenant', form, opener);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    message.say('');
    const body = { name: form.elements.name.value.trim() };
    if (form.elements.externalRef.value.trim()) body.externalRef = form.elements.externalRef.value.trim();
    const rl = rateLimitOf(form);
    if (rl) body.settings = { rateLimit: rl };
    try {
      const { data } = await call('POST', '/api/tenants', { body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
      dlg.close();
      location.hash = `#/tenants/${data.tenantId}`;
    } catch (err) {
      const rest = err instanceof ApiError ? showFieldErrors(form, err.problem) : [];
      if (!(err instanceof ApiError) || rest.length > 0 || !(err.problem.errors || []).length) message.say(describe(err), 'error');
    }
  });
}
