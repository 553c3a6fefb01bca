// The global feed: filters by type, actor and time, cursor paging, live
// additions on the last page, and verification of the whole chain, page by
// page, with progress.

import { get, describe } from './api.js';
import * as live from './live.js';
import { h, replace, field, status, debounce } from './dom.js';
import { eventItem } from './history.js';

const TYPES = ['TenantCreated', 'TenantUpdated', 'TenantSuspended', 'TenantReactivated', 'TenantDeleted',
  'GenesysCredentialsSet', 'CredentialsRotated', 'GenesysIntegrationLinked', 'WABALinked', 'WABAUnlinked',
  'WhatsAppTokenStored', 'WhatsAppAccountUpdated'];
const PAGE = 100;

export function eventsPage(ctx) {
  const { main } = ctx;
  const message = status();
  const type = field({ label: 'Type', name: 'type', value: '', options: [['', 'Any type'], ...TYPES.map((t) => [t, t])] });
  const actor = field({ label: 'Actor', name: 'actor', hint: 'e.g. admin:3f9a1c2b' });
  const from = field({ label: 'From', name: 'from', type: 'datetime-local', hint: 'UTC', attrs: { step: 1 } });
  const to = field({ label: 'To', name: 'to', type: 'datetime-local', hint: 'UTC', attrs: { step: 1 } });
  const filters = h('form', { class: 'filters', novalidate: true, 'aria-label': 'Filter events' },
    type, actor, from, to, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply')));
  const list = h('ol', { class: 'timeline', 'aria-label': 'Events' });
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next');
  const pageInfo = h('span', { class: 'muted' });
  let cursors = ['0'];
  let nextCursor = '';

  function query() {
    const p = new URLSearchParams({ limit: String(PAGE), afterPosition: cursors[cursors.length - 1] });
    if (type.input.value) p.set('type', type.input.value);
    if (actor.input.value.trim()) p.set('actor', actor.input.value.trim());
    if (from.input.value) p.set('from', new Date(`${from.input.value}Z`).toISOString());
    if (to.input.value) p.set('to', new Date(`${to.input.value}Z`).toISOString());
    return p;
  }

  async function load() {
    try {
      const { data } = await get(`/api/events?${query()}`);
      replace(list, (data.items || []).map((e) => eventItem(e, { showTenant: true })));
      if (!data.items?.length) list.append(h('li', {}, 'No events match.'));
      nextCursor = data.nextCursor || '';
      prev.disabled = cursors.length <= 1;
      next.disabled = !nextCursor;
      pageInfo.textContent = `Page ${cursors.length} · head at position ${data.headPosition ?? 0}`;
      message.say('');
    } catch (err) {
      message.say(`Could not load events: ${describe(err)}`, 'error');
    }
  }
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); cursors = ['0']; load(); });
  next.addEventListener('click', () => { if (nextCursor) { cursors.push(nextCursor); load(); } });
  prev.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(); } });

  // Verify the whole chain, one anchored page at a time.
  const verifyButton = h('button', { type: 'button', class: 'secondary' }, 'Verify history');
  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Verification progress', hidden: true });
  const verifyResult = status();
  verifyButton.addEventListener('click', async () => {
    verifyButton.disabled = true;
    progress.hidden = false;
    let after = 0; let checked = 0;
    try {
      for (;;) {
        const { data: r } = await get(`/api/events/verify?afterPosition=${after}`);
        checked += r.checked;
        progress.max = Math.max(r.head, 1);
        progress.value = Math.min(r.to, r.head);
        if (!r.ok) {
          verifyResult.say(`Broken at position ${r.break.position}${r.break.streamId ? ` (${r.break.streamId})` : ''}: ${r.break.reason}`, 'error');
          break;
        }
        verifyResult.say(`Checked ${checked} of ${r.head} events…`);
        if (r.nextAfterPosition === null) {
          verifyResult.say(`Verified: ${checked} events up to position ${r.to}, the hash chain is intact.`, 'ok');
          break;
        }
        after = r.nextAfterPosition;
      }
    } catch (err) {
      verifyResult.say(`Could not verify: ${describe(err)}`, 'error');
    } finally {
      verifyButton.disabled = false;
    }
  });

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Events'), verifyButton),
    progress, verifyResult,
    filters, message, list,
    h('div', { class: 'pager' }, prev, pageInfo, next));
  load();
  // New events belong on the last page: reload it when one commits.
  const reload = debounce(() => { if (!nextCursor) load(); }, 200);
  return live.on(reload);
}
