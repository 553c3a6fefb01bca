'use strict';
// check.js runs TenantContexts against a live Tenant Service and RabbitMQ and
// exits non-zero when a lookup serves a stale answer. The service's tests run
// it (cmd/tenant-service/node_consumer_test.go); by hand:
//
//   BASE_URL=http://localhost:3007 ADMIN_KEY=... SERVICE_KEY=... \
//   AMQP_URL=amqp://guest:guest@localhost:5672/ node check.js
//
// With BROKER_OUTAGE=1 it also asks, on stdout, for the broker connection to
// be cut ("cut?") and restored ("restore?"), and waits for a line on stdin
// after each: the test drives a TCP proxy in front of RabbitMQ.
const readline = require('node:readline');
const { TenantContexts } = require('./tenant-contexts');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const baseURL = env('BASE_URL');

async function admin(method, path, body) {
  const res = await fetch(baseURL + path, {
    method,
    headers: { Authorization: `Bearer ${env('ADMIN_KEY')}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

// eventually polls a lookup until it answers what want accepts: the entry
// must have been dropped by an event for that to happen.
async function eventually(what, lookup, want, withinMs = 10000) {
  const deadline = Date.now() + withinMs;
  let got;
  for (;;) {
    got = await lookup();
    if (want(got)) return got;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(got)} after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// fromMemory waits until lookup is answered without asking the service.
async function fromMemory(contexts, lookup) {
  await eventually('a lookup from memory', async () => {
    const reads = contexts.stats.reads;
    await lookup();
    return contexts.stats.reads === reads;
  }, (hit) => hit);
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(question) {
  console.log(question);
  await lines.next();
}

async function main() {
  const unique = `${Date.now()}${Math.floor(Math.random() * 1000)}`.slice(-12);
  const phone = `7${unique}`, phone2 = `8${unique}`;
  const contexts = new TenantContexts({
    baseURL, apiKey: env('SERVICE_KEY'), amqpURL: env('AMQP_URL'),
    exchange: process.env.AMQP_EXCHANGE || 'tenant.events',
    log: (level, message, fields) => console.error(JSON.stringify({ level, message, ...fields })),
  });
  await contexts.start();
  try {
    const a = await admin('POST', '/api/tenants', { name: 'Node A' });
    await admin('POST', `/api/tenants/${a.tenantId}/whatsapp`,
      { wabaId: `1${unique}`, phoneNumberId: phone, displayPhoneNumber: '+49 30 1', accessToken: 'EAAnodecheck0000' });

    // A lookup is read from the service, then answered from memory (once the
    // events of the writes above, which may still be arriving, are applied).
    const first = await contexts.byPhoneNumber(phone);
    if (!first || first.tenantId !== a.tenantId) throw new Error(`first lookup: ${JSON.stringify(first)}`);
    await fromMemory(contexts, () => contexts.byPhoneNumber(phone));

    // An update reaches the cached entry.
    await admin('PATCH', `/api/tenants/${a.tenantId}`, { name: 'Node A renamed' });
    await eventually('rename', () => contexts.byPhoneNumber(phone), (c) => c && c.name === 'Node A renamed');

    // A "not found" entry is dropped when a tenant links the number.
    if (await contexts.byPhoneNumber(phone2) !== null) throw new Error(`${phone2} found before it was linked`);
    const b = await admin('POST', '/api/tenants', { name: 'Node B' });
    await admin('POST', `/api/tenants/${b.tenantId}/whatsapp`,
      { wabaId: `2${unique}`, phoneNumberId: phone2, displayPhoneNumber: '+49 30 2', accessToken: 'EAAnodecheck0001' });
    await eventually('link', () => contexts.byPhoneNumber(phone2), (c) => c && c.tenantId === b.tenantId);

    if (process.env.BROKER_OUTAGE) {
      // Held in memory when the connection goes: only the resync can tell
      // that it changed meanwhile.
      await fromMemory(contexts, () => contexts.byPhoneNumber(phone2));
      await ask('cut?');
      await eventually('degraded', async () => contexts.fresh, (fresh) => !fresh);
      await admin('PATCH', `/api/tenants/${b.tenantId}`, { name: 'Node B during the outage' });
      await ask('restore?');
      await eventually('change during the outage', () => contexts.byPhoneNumber(phone2),
        (c) => c && c.name === 'Node B during the outage' && contexts.fresh, 15000);
    }

    // A deleted tenant's number is no longer found.
    await admin('DELETE', `/api/tenants/${a.tenantId}`, { reason: 'node check' });
    await eventually('delete', () => contexts.byPhoneNumber(phone), (c) => c === null);
    console.log(`ok ${JSON.stringify(contexts.stats)}`);
  } finally {
    await contexts.close();
    lines.return();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(`check failed: ${err.message}`);
  process.exit(1);
});
