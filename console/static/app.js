// The console's entry: sign-in, the header, and the routes (#/tenants,
// #/tenants/<id>, #/events). Each page renders into <main> and returns a
// cleanup that the router calls when the page is left.

import { call, describe, session, signIn, signOut, ApiError } from './api.js';
import * as live from './live.js';
import { h, replace, field, status } from './dom.js';
import { tenantsPage } from './tenants.js';
import { tenantPage } from './tenant.js';
import { eventsPage } from './events.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let cleanup = null;

function header() {
  const s = session();
  if (!s) {
    replace(top, h('span', { class: 'brand' }, 'Tenant Service console'));
    return;
  }
  const liveState = h('span', { class: 'live', 'aria-live': 'polite' });
  live.onState((st) => {
    liveState.textContent = { live: 'Live', connecting: 'Reconnecting…', off: 'Not live' }[st];
    liveState.dataset.state = st;
  });
  const here = location.hash.startsWith('#/events') ? 'events' : 'tenants';
  replace(top,
    h('span', { class: 'brand' }, 'Tenant Service console'),
    h('nav', { 'aria-label': 'Main' },
      h('a', { href: '#/tenants', 'aria-current': here === 'tenants' ? 'page' : null }, 'Tenants'),
      h('a', { href: '#/events', 'aria-current': here === 'events' ? 'page' : null }, 'Events')),
    h('span', { class: 'who' }, `Signed in as ${s.role}`),
    liveState,
    h('button', { type: 'button', class: 'secondary', onclick: () => { signOut(); live.stop(); location.hash = '#/'; route(); } }, 'Sign out'));
}

function signInPage() {
  const message = status('status error');
  const key = field({ label: 'API key', name: 'key', type: 'password', required: true, attrs: { autocomplete: 'off' } });
  const form = h('form', { class: 'card narrow', novalidate: true },
    key,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')),
    message);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const k = key.input.value.trim();
    if (!k) { message.say('Enter an API key.', 'error'); key.input.focus(); return; }
    message.say('Checking the key…');
    try {
      const { data } = await call('GET', '/api/whoami', { key: k });
      if (data.role === 'service') {
        message.say('This key has the service role; the console needs an admin or auditor key.', 'error');
        key.input.focus();
        return;
      }
      signIn(k, data.role);
      key.input.value = '';
      live.start();
      location.hash = '#/tenants';
      route();
    } catch (err) {
      message.say(err instanceof ApiError && err.status === 401
        ? 'The API key is not valid.' : `Could not sign in: ${describe(err)}`, 'error');
      key.input.focus();
    }
  });
  replace(main,
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Sign in with an admin or auditor API key. The key is kept in this tab only and is forgotten when it closes.'),
    form);
  key.input.focus();
  return null;
}

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  header();
  const s = session();
  if (!s) { cleanup = signInPage(); return; }
  live.start();
  const hash = location.hash || '#/tenants';
  const ctx = { role: s.role, admin: s.role === 'admin', main };
  let m;
  if ((m = hash.match(/^#\/tenants\/([0-9a-f-]{36})$/i))) cleanup = tenantPage(ctx, m[1]);
  else if (hash.startsWith('#/events')) cleanup = eventsPage(ctx);
  else cleanup = tenantsPage(ctx);
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
route();
