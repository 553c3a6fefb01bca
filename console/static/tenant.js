// A tenant's page: its details, the status actions, Genesys and WhatsApp
// settings, and its history (timeline, an older version, verification).
// Every part refreshes from the live feed when the tenant changes.

import { get, call, describe, ApiError } from './api.js';
import * as live from './live.js';
import { h, replace, field, status, time, dialog, showFieldErrors, clearFieldErrors, debounce } from './dom.js';
import { rateLimitFields, rateLimitOf } from './tenants.js';
import { historySection } from './history.js';
import { signupButton } from './signup.js';

export function tenantPage(ctx, id) {
  const { main, admin } = ctx;
  const path = `/api/tenants/${id}`;
  const heading = h('h1', {}, 'Tenant');
  const badge = h('span', { class: 'badge' });
  const actions = h('div', { class: 'actions' });
  const message = status();
  const editArea = h('div');
  const details = h('dl', { class: 'details' });
  const genesysView = h('dl', { class: 'details' });
  const whatsappView = h('div');
  const genesysForms = h('div', { class: 'forms' });
  const whatsappForms = h('div', { class: 'forms' });
  let tenant = null;
  let formsFor = null; // the status the write forms were built for

  const history = historySection({ id, admin, onError: (err) => message.say(describe(err), 'error') });

  async function load() {
    try {
      const { data } = await get(path);
      tenant = data;
      render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        replace(main, h('h1', {}, 'Tenant not found'), h('p', {}, h('a', { href: '#/tenants' }, 'Back to the tenants')));
        return;
      }
      message.say(`Could not load the tenant: ${describe(err)}`, 'error');
    }
  }

  function render() {
    const t = tenant;
    const writable = admin && t.status !== 'deleted';
    heading.textContent = t.name;
    document.title = `${t.name} — Tenant Service console`;
    badge.textContent = t.status;
    badge.className = `badge ${t.status}`;
    replace(details,
      dt('Tenant id', t.tenantId), dt('External reference', t.externalRef || '—'), dt('Status', t.status),
      dt('Version', String(t.version)), dt('Created', time(t.createdAt)), dt('Updated', time(t.updatedAt)),
      dt('Rate limit', t.settings?.rateLimit ? `${t.settings.rateLimit.perSecond}/s, burst ${t.settings.rateLimit.burst}` : 'default'),
      t.deletedAt ? dt('Deleted', time(t.deletedAt)) : null);
    const g = t.genesys || {};
    replace(genesysView,
      dt('Client id', g.clientId || '—'), dt('Client secret', g.clientSecret || '—'), dt('Region', g.region || '—'),
      dt('Integration id', g.integrationId || '—'), dt('Webhook secret', g.webhookSecret || '—'));
    renderWhatsApp(writable);
    if (formsFor !== `${writable}`) {
      formsFor = `${writable}`;
      replace(actions, writable ? statusActions() : null);
      replace(genesysForms, writable ? [credentialsForm(), integrationForm()] : null);
      replace(whatsappForms, writable ? [linkForm(), signupButton({ tenantId: id, onDone: load, message })] : null);
      if (!writable) replace(editArea);
    }
    if (writable) {
      actions.querySelector('[data-action="suspend"]').hidden = t.status !== 'active';
      actions.querySelector('[data-action="reactivate"]').hidden = t.status !== 'suspended';
    }
  }

  function renderWhatsApp(writable) {
    const w = tenant.whatsapp;
    const numbers = w?.phoneNumbers || [];
    replace(whatsappView,
      h('dl', { class: 'details' },
        dt('WABA id', w?.wabaId || '—'),
        dt('Access token', w?.tokenStored ? (w.token || 'stored') : 'none'),
        w?.accountName ? dt('Account', w.accountName) : null),
      numbers.length === 0 ? h('p', { class: 'muted' }, 'No phone numbers linked.')
        : h('table', {},
          h('caption', { class: 'visually-hidden' }, 'Phone numbers'),
          h('thead', {}, h('tr', {}, ['Display number', 'Phone number id', 'WABA id', 'Quality', writable ? 'Actions' : null]
            .filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, numbers.map((p) => h('tr', {},
            h('td', {}, p.displayPhoneNumber || '—'), h('td', {}, p.phoneNumberId), h('td', {}, p.wabaId || w.wabaId || '—'),
            h('td', {}, p.qualityRating || '—'),
            writable ? h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => unlink(p.phoneNumberId) },
              'Unlink', h('span', { class: 'visually-hidden' }, ` ${p.displayPhoneNumber || p.phoneNumberId}`))) : null)))));
  }

  async function write(method, url, body, done, opts = {}) {
    message.say('Saving…');
    try {
      const res = await call(method, url, { body, headers: opts.headers });
      message.say(done, 'ok');
      if (res.data?.tenantId) { tenant = res.data; render(); }
      history.reload();
      return res;
    } catch (err) {
      if (opts.form && err instanceof ApiError) {
        const rest = showFieldErrors(opts.form, err.problem);
        message.say(rest.length || !(err.problem.errors || []).length ? describe(err) : 'Please correct the marked fields.', 'error');
      } else {
        message.say(describe(err), 'error');
      }
      throw err;
    }
  }

  function statusActions() {
    return [
      h('button', { type: 'button', onclick: (ev) => openEdit(ev.currentTarget) }, 'Edit'),
      h('button', { type: 'button', 'data-action': 'suspend', onclick: () => write('POST', `${path}/suspend`, undefined, 'Suspended.').catch(() => {}) }, 'Suspend'),
      h('button', { type: 'button', 'data-action': 'reactivate', onclick: () => write('POST', `${path}/reactivate`, undefined, 'Reactivated.').catch(() => {}) }, 'Reactivate'),
      h('button', { type: 'button', class: 'danger', onclick: (ev) => openDelete(ev.currentTarget) }, 'Delete'),
    ];
  }

  function openEdit(opener) {
    const version = tenant.version; // If-Match: someone else's change since makes it a 412
    const conflict = h('div', { class: 'conflict', hidden: true },
      h('p', {}, 'Someone else changed this tenant since you opened the form. Reload to see their change, then edit again.'),
      h('button', { type: 'button', onclick: async () => { await load(); replace(editArea); openEdit(opener); } }, 'Reload'));
    const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Edit tenant' },
      h('h2', {}, 'Edit'),
      field({ label: 'Name', name: 'name', value: tenant.name, required: true }),
      field({ label: 'External reference', name: 'externalRef', value: tenant.externalRef || '' }),
      rateLimitFields(tenant.settings?.rateLimit),
      conflict,
      h('div', { class: 'actions' },
        h('button', { type: 'submit' }, 'Save'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { replace(editArea); opener.focus(); } }, 'Cancel')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const body = { name: form.elements.name.value.trim(), externalRef: form.elements.externalRef.value.trim() };
      const rl = rateLimitOf(form);
      if (rl) body.settings = { rateLimit: rl };
      try {
        await write('PATCH', path, body, 'Saved.', { form, headers: { 'If-Match': `"${version}"` } });
        replace(editArea);
        opener.focus();
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          conflict.hidden = false;
          message.say('Someone else changed this tenant: reload before saving.', 'error');
          conflict.querySelector('button').focus();
        }
      }
    });
    replace(editArea, form);
    form.elements.name.focus();
  }

  function openDelete(opener) {
    const confirmField = field({ label: 'Type the tenant’s name to confirm', name: 'confirm', attrs: { autocomplete: 'off' } });
    const go = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete permanently');
    const form = h('form', { novalidate: true },
      h('p', {}, 'Deleting ', h('strong', {}, tenant.name), ' destroys its secrets for good: its data key is shredded, so its Genesys and WhatsApp credentials can never be read again. Its phone numbers and integration id are freed. Its history stays readable.'),
      confirmField,
      h('div', { class: 'actions' }, go, h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel')));
    const name = tenant.name;
    confirmField.input.addEventListener('input', () => { go.disabled = confirmField.input.value !== name; });
    const dlg = dialog('Delete tenant', form, opener);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (confirmField.input.value !== name) return;
      dlg.close();
      await write('DELETE', path, undefined, 'Deleted: its secrets are destroyed.').catch(() => {});
      load();
    });
  }

  function credentialsForm() {
    const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Genesys credentials' },
      h('h3', {}, 'Set or rotate credentials'),
      field({ label: 'Client id', name: 'clientId', required: true }),
      field({ label: 'Client secret', name: 'clientSecret', type: 'password', required: true, attrs: { autocomplete: 'off' } }),
      field({ label: 'Region', name: 'region', required: true, hint: 'e.g. mypurecloud.com' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save credentials')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const e = form.elements;
      write('PUT', `${path}/genesys/credentials`, { clientId: e.clientId.value.trim(), clientSecret: e.clientSecret.value, region: e.region.value.trim() },
        'Genesys credentials saved.', { form }).then(() => form.reset(), () => {});
    });
    return form;
  }

  function integrationForm() {
    const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Genesys integration' },
      h('h3', {}, 'Open Messaging integration'),
      field({ label: 'Integration id', name: 'integrationId', required: true }),
      field({ label: 'Webhook secret', name: 'webhookSecret', type: 'password', attrs: { autocomplete: 'off' } }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save integration')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const e = form.elements;
      const body = { integrationId: e.integrationId.value.trim() };
      if (e.webhookSecret.value) body.webhookSecret = e.webhookSecret.value;
      write('PUT', `${path}/genesys/integration`, body, 'Integration saved.', { form }).then(() => form.reset(), () => {});
    });
    return form;
  }

  function linkForm() {
    const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Link a WhatsApp number' },
      h('h3', {}, 'Link a number'),
      field({ label: 'WABA id', name: 'wabaId', required: true }),
      field({ label: 'Phone number id', name: 'phoneNumberId', required: true }),
      field({ label: 'Display number', name: 'displayPhoneNumber' }),
      field({ label: 'Access token', name: 'accessToken', type: 'password', attrs: { autocomplete: 'off' } }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Link number')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const e = form.elements;
      const body = { wabaId: e.wabaId.value.trim(), phoneNumberId: e.phoneNumberId.value.trim() };
      if (e.displayPhoneNumber.value.trim()) body.displayPhoneNumber = e.displayPhoneNumber.value.trim();
      if (e.accessToken.value) body.accessToken = e.accessToken.value;
      write('POST', `${path}/whatsapp`, body, 'Number linked.', { form }).then(() => { form.reset(); load(); }, () => {});
    });
    return form;
  }

  function unlink(phoneNumberId) {
    write('DELETE', `${path}/whatsapp/${encodeURIComponent(phoneNumberId)}`, undefined, 'Number unlinked.').then(load, () => {});
  }

  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/tenants' }, 'Tenants')),
    h('div', { class: 'page-head' }, heading, badge, actions),
    message,
    editArea,
    h('section', { 'aria-labelledby': 'sec-details' }, h('h2', { id: 'sec-details' }, 'Details'), details),
    h('section', { 'aria-labelledby': 'sec-genesys' }, h('h2', { id: 'sec-genesys' }, 'Genesys Cloud'), genesysView, genesysForms),
    h('section', { 'aria-labelledby': 'sec-whatsapp' }, h('h2', { id: 'sec-whatsapp' }, 'WhatsApp'), whatsappView, whatsappForms),
    history.element);
  load();
  const refresh = debounce(() => { load(); history.reload(); }, 150);
  const off = live.on((e) => { if (e.streamId === `tenant-${id}`) refresh(); });
  return () => { off(); document.title = 'Tenant Service console'; };
}

function dt(term, value) {
  return [h('dt', {}, term), h('dd', {}, value)];
}
