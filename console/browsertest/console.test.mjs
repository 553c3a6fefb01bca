// Drives the admin console in Debian's Chromium against a running service:
// an admin's whole tenant lifecycle, live history, Embedded Signup with a
// stubbed Meta SDK, an auditor who sees no write control, a refused service
// key, and axe-core on every page. Run by TestConsoleInBrowser
// (cmd/tenant-service), which starts the service and sets:
//   BASE_URL, ADMIN_KEY, AUDITOR_KEY, SERVICE_KEY   the service and its keys
//   ES_CODE, ES_WABA, ES_PHONE, ES_DISPLAY          what the Graph fake onboards
//   ARTIFACTS                                       where a failing step's screenshot goes
//   SCREENSHOTS (optional)                          where to save the docs' screenshots
//   CHROMIUM (optional)                             the browser, default /usr/bin/chromium
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env('BASE_URL');
const ADMIN = env('ADMIN_KEY');
const AUDITOR = env('AUDITOR_KEY');
const SERVICE = env('SERVICE_KEY');
const ARTIFACTS = env('ARTIFACTS');
const SCREENSHOTS = process.env.SCREENSHOTS || '';
const TIMEOUT = 10_000;

const timings = [];
let page;

async function step(name, fn) {
  const start = Date.now();
  try {
    await fn();
  } catch (err) {
    const file = path.join(ARTIFACTS, `${name.replace(/\W+/g, '-')}.png`);
    try { await page?.screenshot({ path: file, fullPage: true }); } catch { /* the page may be gone */ }
    throw new Error(`step "${name}" failed (screenshot: ${file}): ${err.message}`);
  }
  timings.push(`${name} ${Date.now() - start}ms`);
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function api(method, url, key, body, headers = {}) {
  const res = await fetch(BASE + url, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// axe runs on the page as it is; serious and critical violations fail.
async function axe(label) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.length === 0, `axe on ${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
}

async function shot(name, fullPage = false) {
  if (!SCREENSHOTS) return;
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}

const button = (name) => page.getByRole('button', { name, exact: true });
const heading = (name) => page.getByRole('heading', { level: 1, name, exact: true });
const text = (t) => page.getByText(t, { exact: false });

async function signIn(key) {
  await page.getByLabel('API key').fill(key);
  await button('Sign in').click();
}

// writeControls counts the buttons an auditor must never see.
async function writeControls() {
  const names = ['New tenant', 'Create', 'Edit', 'Save', 'Suspend', 'Reactivate', 'Delete', 'Delete permanently',
    'Save credentials', 'Save integration', 'Link number', 'Embedded Signup'];
  const found = [];
  for (const n of names) if (await button(n).count() > 0) found.push(n);
  if (await page.getByRole('button', { name: /^Unlink/ }).count() > 0) found.push('Unlink');
  return found;
}

const started = Date.now();
mkdirSync(ARTIFACTS, { recursive: true });
if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Nothing leaves the machine: Meta's SDK and its signup frame are stubs.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => {
    const url = route.request().url();
    if (url.startsWith('https://connect.facebook.net/')) {
      return route.fulfill({
        contentType: 'text/javascript', headers: { 'Access-Control-Allow-Origin': '*' },
        body: `window.FB = {
  init(opts) { window.__fbInit = opts; },
  login(cb, opts) {
    window.__fbLoginOptions = opts;
    const f = document.createElement('iframe');
    f.title = 'Meta Embedded Signup';
    f.hidden = true;
    f.src = 'https://www.facebook.com/embedded-signup-finish';
    f.onload = () => setTimeout(() => cb({ authResponse: { code: ${JSON.stringify(env('ES_CODE'))} } }), 50);
    document.body.append(f);
  },
};
window.fbAsyncInit && window.fbAsyncInit();`,
      });
    }
    if (url.startsWith('https://www.facebook.com/')) {
      const msg = { type: 'WA_EMBEDDED_SIGNUP', event: 'FINISH', version: 3,
        data: { phone_number_id: env('ES_PHONE'), waba_id: env('ES_WABA'), business_id: '990001' } };
      return route.fulfill({ contentType: 'text/html',
        body: `<!doctype html><title>Meta</title><script>parent.postMessage(${JSON.stringify(JSON.stringify(msg))}, '*')</script>` });
    }
    problems.push(`request to ${url}`);
    return route.abort();
  });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });

  const stamp = Date.now().toString(36);
  const name = `Browser Co ${stamp}`;
  let tenantId;

  await step('sign-in page', async () => {
    await page.goto(`${BASE}/admin`);
    expect(new URL(page.url()).pathname === '/admin/', `/admin went to ${page.url()}`);
    await heading('Sign in').waitFor();
    await axe('the sign-in page');
    await shot('sign-in');
  });

  await step('service key refused', async () => {
    await signIn(SERVICE);
    await text('This key has the service role; the console needs an admin or auditor key.').waitFor();
    expect(await page.evaluate(() => sessionStorage.length) === 0, 'a refused key was kept');
  });

  await step('admin signs in', async () => {
    await signIn(ADMIN);
    await heading('Tenants').waitFor();
    const stored = await page.evaluate(() => ({ local: localStorage.length, url: location.href }));
    expect(stored.local === 0 && !stored.url.includes(ADMIN), 'the key went into localStorage or the URL');
    await axe('the tenant list');
  });

  await step('field error next to its field', async () => {
    await button('New tenant').click();
    const dlg = page.getByRole('dialog', { name: 'New tenant' });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Create', exact: true }).click();
    const nameInput = dlg.getByLabel('Name', { exact: true });
    await page.waitForFunction(() => document.querySelector('dialog [data-error-for="name"]')?.textContent);
    const described = await nameInput.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby'))?.textContent);
    expect(described && (await nameInput.getAttribute('aria-invalid')) === 'true', `no error next to Name: ${described}`);
    await axe('the new tenant dialog');
  });

  await step('create', async () => {
    const dlg = page.getByRole('dialog', { name: 'New tenant' });
    await dlg.getByLabel('Name', { exact: true }).fill(name);
    await dlg.getByLabel('External reference').fill(`ext-${stamp}`);
    await dlg.getByLabel('Rate limit (per second)').fill('20');
    await dlg.getByLabel('Rate limit burst').fill('40');
    await dlg.getByRole('button', { name: 'Create', exact: true }).click();
    await heading(name).waitFor();
    tenantId = page.url().split('/').pop();
    await page.locator('.event[data-type="TenantCreated"]').waitFor();
    await axe('the tenant page');
  });

  await step('edit', async () => {
    await button('Edit').click();
    await page.getByLabel('Name', { exact: true }).fill(`${name} Ltd`);
    await button('Save').click();
    await heading(`${name} Ltd`).waitFor();
  });

  await step('edit conflict offers Reload', async () => {
    await button('Edit').click();
    const current = await api('GET', `/api/tenants/${tenantId}`, ADMIN);
    await api('PATCH', `/api/tenants/${tenantId}`, ADMIN, { externalRef: `ext2-${stamp}` }, { 'If-Match': `"${current.version}"` });
    await page.getByLabel('Name', { exact: true }).fill(`${name} Conflict`);
    await button('Save').click();
    await text('Someone else changed this tenant since you opened the form').waitFor();
    await button('Reload').click();
    await page.waitForFunction((v) => document.querySelector('form[aria-label="Edit tenant"] input[name="externalRef"]')?.value === v, `ext2-${stamp}`);
    await button('Cancel').click();
    await heading(`${name} Ltd`).waitFor();
  });

  await step('suspend', async () => {
    await button('Suspend').click();
    await page.locator('.page-head .badge.suspended').waitFor();
    await button('Reactivate').waitFor();
    expect(await button('Suspend').isHidden(), 'Suspend still shown on a suspended tenant');
  });

  await step('link a number', async () => {
    await page.getByLabel('WABA id').fill('770001');
    await page.getByLabel('Phone number id').fill('770002');
    await page.getByLabel('Display number').fill('+1 555 0177');
    await page.getByLabel('Access token').fill('EAAbrowser-secret-token-1234');
    await button('Link number').click();
    await page.getByRole('cell', { name: '+1 555 0177', exact: true }).waitFor();
    await page.getByRole('button', { name: /^Unlink/ }).first().waitFor();
    expect(!(await page.content()).includes('EAAbrowser-secret-token-1234'), 'the access token shows on the page');
  });

  await step('history updates live', async () => {
    // Another admin (this script, through the API) changes the tenant; the
    // open page shows it without a reload.
    const marker = await page.evaluate(() => { window.__notReloaded = true; return true; });
    await api('PUT', `/api/tenants/${tenantId}/genesys/credentials`, ADMIN,
      { clientId: `client-${stamp}`, clientSecret: 'very-secret-9876', region: 'mypurecloud.de' });
    await page.locator('.event[data-type="GenesysCredentialsSet"]').waitFor();
    await page.getByText(`client-${stamp}`).first().waitFor();
    expect(marker && await page.evaluate(() => window.__notReloaded === true), 'the page was reloaded');
  });

  await step('older version', async () => {
    await page.getByLabel('Version', { exact: true }).fill('1');
    await button('Show').click();
    const older = page.getByRole('region', { name: 'Older version' });
    await older.getByText('As of version 1').waitFor();
    await older.getByText(name, { exact: true }).waitFor();
  });

  await step('verify tenant history', async () => {
    await button('Verify history').click();
    await text('the hash chain is intact').waitFor();
  });

  await step('unlink', async () => {
    // A tenant holds one WABA: the manual number goes before signup links another.
    await page.getByRole('button', { name: 'Unlink +1 555 0177' }).click();
    await text('No phone numbers linked.').waitFor();
    await page.locator('.event[data-type="WABAUnlinked"]').waitFor();
  });

  await step('embedded signup', async () => {
    await button('Embedded Signup').click();
    await text('Embedded Signup finished').waitFor();
    await page.getByRole('cell', { name: env('ES_DISPLAY'), exact: true }).waitFor();
    const opts = await page.evaluate(() => window.__fbLoginOptions);
    expect(opts && opts.response_type === 'code' && opts.override_default_response_type === true && opts.config_id &&
      opts.extras?.sessionInfoVersion === '3' && opts.extras.featureType === '' && opts.extras.setup, `FB.login options ${JSON.stringify(opts)}`);
    await page.locator('.event[data-type="WABALinked"]').first().waitFor();
    await axe('the tenant page after signup');
    await shot('tenant', true);
  });

  await step('events page', async () => {
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await heading('Events').waitFor();
    await page.locator('.event').first().waitFor();
    await axe('the events page');
    await button('Verify history').click();
    await text('the hash chain is intact').waitFor();
    await page.getByLabel('Type').selectOption('TenantSuspended');
    await button('Apply').click();
    await page.waitForFunction(() => {
      const types = [...document.querySelectorAll('.event')].map((e) => e.dataset.type);
      return types.length > 0 && types.every((t) => t === 'TenantSuspended');
    });
    await page.getByLabel('Type').selectOption('');
    await button('Apply').click();
    await page.locator('.event[data-type="TenantCreated"]').first().waitFor();
    await shot('events');
  });

  await step('tenant list', async () => {
    await api('POST', '/api/tenants', ADMIN, { name: `Acme Support ${stamp}`, externalRef: `crm-${stamp}` });
    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await heading('Tenants').waitFor();
    await page.getByRole('link', { name: `${name} Ltd` }).waitFor();
    // The search asks the service (?q=): the other tenants go, this one stays.
    await page.getByLabel('Search').fill(`CRM-${stamp}`);
    await page.getByRole('link', { name: `${name} Ltd` }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: `Acme Support ${stamp}` }).waitFor();
    await page.getByLabel('Search').fill('');
    await page.getByRole('link', { name: `${name} Ltd` }).waitFor();
    // A tenant another admin creates shows up without a reload.
    await api('POST', '/api/tenants', ADMIN, { name: `Live Arrival ${stamp}` });
    await page.getByRole('link', { name: `Live Arrival ${stamp}` }).waitFor();
    await shot('tenants');
  });

  await step('delete', async () => {
    await page.getByRole('link', { name: `${name} Ltd` }).click();
    await heading(`${name} Ltd`).waitFor();
    await button('Delete').click();
    const dlg = page.getByRole('dialog', { name: 'Delete tenant' });
    await dlg.getByText('destroys its secrets').waitFor();
    const go = dlg.getByRole('button', { name: 'Delete permanently' });
    expect(await go.isDisabled(), 'delete is possible without typing the name');
    await dlg.getByLabel('Type the tenant’s name to confirm').fill(`${name} Ltd`);
    await go.click();
    await page.locator('.page-head .badge.deleted').waitFor();
    await page.locator('.event[data-type="TenantDeleted"]').waitFor();
    expect((await writeControls()).length === 0, `write controls on a deleted tenant: ${await writeControls()}`);
  });

  await step('auditor sees no write control', async () => {
    await button('Sign out').click();
    await heading('Sign in').waitFor();
    expect(await page.evaluate(() => sessionStorage.length) === 0, 'sign out kept the key');
    await signIn(AUDITOR);
    await heading('Tenants').waitFor();
    await page.getByRole('link', { name: `Acme Support ${stamp}` }).waitFor();
    let found = await writeControls();
    expect(found.length === 0, `auditor sees on the list: ${found}`);
    await axe('the tenant list (auditor)');
    await page.getByRole('link', { name: `Acme Support ${stamp}` }).click();
    await heading(`Acme Support ${stamp}`).waitFor();
    await page.locator('.event[data-type="TenantCreated"]').waitFor();
    found = await writeControls();
    expect(found.length === 0, `auditor sees on a tenant: ${found}`);
    expect(await page.locator('form[aria-label="Edit tenant"], form[aria-label="Link a WhatsApp number"]').count() === 0, 'write forms for an auditor');
    await button('Verify history').click(); // reading is allowed
    await text('the hash chain is intact').waitFor();
    await axe('the tenant page (auditor)');
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await heading('Events').waitFor();
    found = await writeControls();
    expect(found.length === 0, `auditor sees on events: ${found}`);
  });

  expect(problems.length === 0, `browser problems: ${problems.join('; ')}`);
} finally {
  await browser.close();
}
console.log(`ok ${Date.now() - started}ms: ${timings.join(', ')}`);
