// A tenant's history: the timeline of its events, the tenant as of an older
// version or time, and the verification of its stream's hash chain.

import { get, describe } from './api.js';
import { h, replace, field, status, time } from './dom.js';

const PAGE = 500;

/** eventItem renders one event with its data behind a disclosure. */
export function eventItem(e, { showTenant = false } = {}) {
  const m = e.metadata || {};
  const tenantId = e.streamId?.startsWith('tenant-') ? e.streamId.slice(7) : null;
  return h('li', { class: 'event', 'data-type': e.type, 'data-position': e.position },
    h('div', { class: 'event-head' },
      h('strong', { class: 'event-type' }, e.type),
      h('span', {}, `version ${e.version}`),
      h('span', {}, `position ${e.position}`),
      h('time', { datetime: e.occurredAt }, time(e.occurredAt)),
      // Ids are time-ordered (UUID v7): their end tells tenants apart, not their start.
      showTenant && tenantId ? h('a', { href: `#/tenants/${tenantId}`, title: tenantId }, `tenant …${tenantId.slice(-8)}`) : null),
    h('div', { class: 'event-meta muted' },
      h('span', {}, `actor ${m.actor || '—'}`),
      h('span', {}, `request ${m.requestId || '—'}`)),
    h('details', {}, h('summary', {}, 'Data'), h('pre', { tabindex: 0 }, JSON.stringify(e.data, null, 2))));
}

export function historySection({ id, onError }) {
  const path = `/api/tenants/${id}`;
  const list = h('ol', { class: 'timeline', reversed: true, 'aria-label': 'Events of this tenant' });
  const count = h('p', { class: 'muted' });
  const verifyResult = status();
  const asOfResult = h('div', { class: 'as-of', 'aria-live': 'polite' });

  const version = field({ label: 'Version', name: 'version', type: 'number', attrs: { min: 1, step: 1 } });
  const asOf = field({ label: 'As of', name: 'asOf', type: 'datetime-local', attrs: { step: 1 }, hint: 'UTC' });
  const picker = h('form', { class: 'filters', novalidate: true, 'aria-label': 'Show an older version' },
    version, asOf,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Show'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { picker.reset(); replace(asOfResult); } }, 'Back to current')));
  picker.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const params = new URLSearchParams();
    if (version.input.value) params.set('version', version.input.value);
    else if (asOf.input.value) params.set('asOf', new Date(`${asOf.input.value}Z`).toISOString());
    else { replace(asOfResult, h('p', {}, 'Enter a version or a time.')); return; }
    try {
      const { data: t } = await get(`${path}?${params}`);
      replace(asOfResult, h('section', { class: 'card', 'aria-label': 'Older version' },
        h('h3', {}, `As of version ${t.version}`),
        h('dl', { class: 'details' },
          h('dt', {}, 'Name'), h('dd', {}, t.name),
          h('dt', {}, 'Status'), h('dd', {}, t.status),
          h('dt', {}, 'External reference'), h('dd', {}, t.externalRef || '—'),
          h('dt', {}, 'Updated'), h('dd', {}, time(t.updatedAt)),
          h('dt', {}, 'Phone numbers'), h('dd', {}, (t.whatsapp?.phoneNumbers || []).map((p) => p.displayPhoneNumber || p.phoneNumberId).join(', ') || '—'),
          h('dt', {}, 'Genesys client id'), h('dd', {}, t.genesys?.clientId || '—'))));
    } catch (err) {
      replace(asOfResult, h('p', { class: 'error' }, describe(err)));
    }
  });

  const verifyButton = h('button', { type: 'button', class: 'secondary' }, 'Verify history');
  verifyButton.addEventListener('click', async () => {
    verifyButton.disabled = true;
    verifyResult.say('Verifying the hash chain…');
    try {
      const { data: r } = await get(`${path}/verify`);
      if (r.ok) verifyResult.say(`Verified: ${r.checked} events up to version ${r.version}, the hash chain is intact.`, 'ok');
      else verifyResult.say(`Broken at position ${r.break.position} (version ${r.break.version}): ${r.break.reason}`, 'error');
    } catch (err) {
      verifyResult.say(`Could not verify: ${describe(err)}`, 'error');
    } finally {
      verifyButton.disabled = false;
    }
  });

  let loading = null;
  async function reload() {
    if (loading) { loading.again = true; return; }
    loading = { again: false };
    try {
      const events = [];
      let cursor = '';
      for (;;) {
        const params = new URLSearchParams({ limit: String(PAGE) });
        if (cursor) params.set('cursor', cursor);
        const { data } = await get(`${path}/events?${params}`);
        events.push(...(data.items || []));
        if (!data.nextCursor || events.length >= 5000) break;
        cursor = data.nextCursor;
      }
      events.sort((a, b) => b.version - a.version);
      replace(list, events.map((e) => eventItem(e)));
      count.textContent = `${events.length} events, newest first.`;
    } catch (err) {
      onError(err);
    } finally {
      const again = loading.again;
      loading = null;
      if (again) reload();
    }
  }
  reload();

  const element = h('section', { 'aria-labelledby': 'sec-history' },
    h('div', { class: 'page-head' }, h('h2', { id: 'sec-history' }, 'History'), verifyButton),
    verifyResult, picker, asOfResult, count, list);
  return { element, reload };
}
