'use strict';
// TenantContexts resolves tenants from process memory and keeps that memory
// fresh with the Tenant Service's RabbitMQ events. It follows the protocol of
// the service's Go client (client/), for services written in Node:
//
//   1. bind a queue of your own (exclusive: each process has its own memory)
//      to the exchange with "tenant.#";
//   2. on every message, before the ack: skip a stream_version you already
//      applied for that tenant, drop the entries of its tenant (and the "not
//      found" entries, which a link may have made wrong), remember the highest
//      global_position applied;
//   3. read with ?minPosition=<that position>, so a read never brings back
//      the state from before an event already applied, and do not cache an
//      answer that an event overtook while it was under way;
//   4. after a reconnect, read what was missed from GET /api/events before
//      serving what is held as fresh again.
const amqp = require('amqplib');

class TenantContexts {
  // baseURL and apiKey (role service) reach the Tenant Service; amqpURL and
  // exchange the broker. log(level, message, fields) sees state changes.
  constructor({ baseURL, apiKey, amqpURL, exchange = 'tenant.events', log = () => {} }) {
    Object.assign(this, { baseURL, apiKey, amqpURL, exchange, log });
    this.entries = new Map(); // request path -> { ctx (object, or null: not found), tenantId }
    this.versions = new Map(); // tenantId -> last stream_version applied
    this.applied = 0; // highest global_position applied
    this.generation = 0; // bumped by every applied event
    this.fresh = false; // false while (re)connecting: entries are not served
    this.stats = { hits: 0, reads: 0, events: 0 };
    this.closed = false;
  }

  byPhoneNumber(phoneNumberId) { return this.lookup(`/api/resolve/whatsapp/${encodeURIComponent(phoneNumberId)}`); }
  byIntegration(integrationId) { return this.lookup(`/api/resolve/genesys/${encodeURIComponent(integrationId)}`); }
  byTenant(tenantId) { return this.lookup(`/api/resolve/tenant/${encodeURIComponent(tenantId)}`); }

  // lookup answers the context at path, or null when no live tenant holds it.
  async lookup(path) {
    const held = this.entries.get(path);
    if (held && this.fresh) {
      this.stats.hits++;
      return held.ctx;
    }
    const generation = this.generation;
    let ctx;
    try {
      ctx = await this.read(path, this.applied);
    } catch (err) {
      if (held) return held.ctx; // last known good while the service is unreachable
      throw err;
    }
    // An event applied while the read was under way may have changed the
    // answer: serve it (it is not older than the lookup), but do not keep it.
    if (generation === this.generation && this.fresh) {
      this.entries.set(path, { ctx, tenantId: ctx && ctx.tenantId });
    }
    return ctx;
  }

  async read(path, minPosition) {
    this.stats.reads++;
    const res = await this.get(`${path}?minPosition=${minPosition}`);
    if (res.status === 404) return null;
    return res.json();
  }

  async get(pathAndQuery) {
    const res = await fetch(this.baseURL + pathAndQuery, {
      headers: { Authorization: `Bearer ${this.apiKey}` },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200 && res.status !== 404) {
      throw new Error(`tenant service answered ${res.status} for ${pathAndQuery.split('?')[0]}`);
    }
    return res;
  }

  // apply takes one event (from a message or from the feed). It is
  // idempotent: a redelivery or an event read twice changes nothing.
  apply(tenantId, version, position) {
    if (version > (this.versions.get(tenantId) || 0)) {
      this.versions.set(tenantId, version);
      for (const [path, entry] of this.entries) {
        if (entry.ctx === null || entry.tenantId === tenantId) this.entries.delete(path);
      }
      this.stats.events++;
    }
    if (position > this.applied) this.applied = position;
    this.generation++;
  }

  // start connects, subscribes and catches up; it resolves once lookups are
  // served from memory. Broker losses later are repaired in the background.
  async start() {
    await this.connect();
    // Nothing is held yet: no history to read, only where the feed stands.
    const page = await (await this.get('/api/events?limit=1&afterPosition=0')).json();
    if (page.headPosition > this.applied) this.applied = page.headPosition;
    this.fresh = true;
    this.log('info', 'tenant contexts connected', { position: this.applied });
  }

  async connect() {
    const conn = await amqp.connect(this.amqpURL);
    this.conn = conn;
    this.connected = true;
    conn.on('error', () => {}); // 'close' follows every error
    conn.on('close', () => {
      this.connected = false;
      this.lost();
    });
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true, durable: false });
    await ch.bindQueue(queue, this.exchange, 'tenant.#');
    await ch.prefetch(200);
    await ch.consume(queue, (msg) => {
      if (msg === null) return; // the broker cancelled the consumer; 'close' follows
      const h = msg.properties.headers;
      this.apply(String(h.tenant_id), Number(h.stream_version), Number(h.global_position));
      ch.ack(msg);
    });
  }

  // lost stops serving entries as fresh and starts the repair, once.
  lost() {
    if (this.closed || this.repairing) return;
    this.fresh = false;
    this.log('warn', 'tenant contexts degraded: broker connection lost', {});
    this.repair();
  }

  // repair reconnects with backoff, then reads what was missed; entries are
  // served from memory again only when both succeeded on a live connection.
  async repair() {
    this.repairing = true;
    for (let delay = 500; !this.closed; delay = Math.min(delay * 2, 30000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        await this.connect();
        this.log('info', 'tenant contexts resyncing', { from: this.applied });
        await this.resync();
        if (!this.connected) continue; // lost again during the resync
        this.repairing = false;
        this.fresh = true;
        this.log('info', 'tenant contexts connected', { position: this.applied });
        return;
      } catch (err) {
        this.log('warn', 'tenant contexts: reconnect failed', { error: String(err), retryInMs: delay * 2 });
        if (this.connected) await this.conn.close().catch(() => {});
      }
    }
  }

  // resync applies every event committed after the last one applied: those
  // published while this process had no queue.
  async resync() {
    let query = `afterPosition=${this.applied}`;
    for (;;) {
      const page = await (await this.get(`/api/events?limit=500&${query}`)).json();
      for (const e of page.items) this.apply(e.tenantId, e.version, e.position);
      if (!page.nextCursor) return;
      query = `cursor=${page.nextCursor}`;
    }
  }

  async close() {
    this.closed = true;
    if (this.conn) await this.conn.close().catch(() => {});
  }
}

module.exports = { TenantContexts };
