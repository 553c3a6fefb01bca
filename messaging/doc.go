// Package messaging carries tenant events over RabbitMQ: the Relay publishes
// every stored event, and Subscriber is the consumer helper for the services
// that cache tenant data. It is the only package that talks AMQP.
//
// # Topology
//
// Events go through the durable topic exchange "tenant.events" with routing
// key "tenant." + the event type in snake case ("tenant.waba_linked",
// "tenant.genesys_credentials_set", see RoutingKey). The exchange is plain:
// durable, topic, no arguments, so any consumer may declare it first the
// usual way. The relay takes an existing exchange as it is (an older
// deployment's has an alternate-exchange argument) and declares a missing
// one; it declares no queue, so nothing it creates grows while nobody
// consumes. RabbitMQ drops (and still confirms) a message no binding
// matches; that loses nothing, because the event store is the outbox: a
// consumer that bound its queue late reads what it missed from
// GET /api/events.
//
// # Messages
//
// Each message is persistent, content type application/json, with message
// id = event id and string headers event_type, tenant_id, stream_id,
// stream_version, global_position, schema_version and, when the request that
// caused the event had one, traceparent: the W3C trace context recorded in
// the event's metadata, or, when the relay traces (RelayConfig.TracerProvider),
// that of its publish span, a child of the recorded one, so the trace id is
// the request's either way. The body is the event envelope
// {eventId, streamId, tenantId, type, version, position, occurredAt,
// schemaVersion, data, metadata} with every "ciphertext" field removed from
// data at any depth, so a secret shows only its hint ({"hint": "****abcd"}).
//
// asyncapi.json (AsyncAPI returns it; the service serves it at
// /asyncapi.json) describes all of this for consumers: one channel per
// routing key, every header, the AMQP properties and, per event type, the
// whole body. It is part of the contract: tests fail when an event type of
// the domain has no message in it, and when a message the relay builds, or
// the running service publishes, says anything it does not.
//
// # Relay
//
// The Relay is a projector (Name, Handle) whose read model is the exchange:
// the event store is the outbox. The runner hands it batches in position
// order and advances its checkpoint ("relay.rabbitmq") only after Handle
// returned nil, which it does only after the broker confirmed every event
// of the batch. Any failure fails the batch and the runner retries it, so
// delivery is at least once and a duplicate carries the same message id.
//
// Order: a batch is grouped by tenant and published in waves: a wave
// publishes the next event of each of up to InFlight tenants (default 128)
// and waits for their confirms, so a tenant's events go out in commit
// order, at most one of them unconfirmed at any time, while up to InFlight
// confirms are outstanding. Even
// when the broker refuses an event or the connection breaks mid-batch, and
// the retried batch repeats events already delivered, a consumer sees each
// tenant's events for the first time in commit order.
//
// Failure: nothing is buffered. Without a connection Handle fails at once;
// when no confirm arrives for PublishTimeout (default 10s) it fails, and if
// publishers are stuck writing to a broker that stopped reading it closes
// the connection under them. The relay reconnects in the background with
// backoff (ReconnectDelay doubling up to MaxReconnectDelay) and redeclares
// the exchange on every connection. Ready and Ping serve /readyz.
//
// The relay publishes with amqp091-go directly rather than watermill-amqp's
// Publisher. That Publisher waits for each confirm on a one-slot channel
// with no timeout, so one message is in flight per pooled channel and a
// hung broker blocks Publish until the heartbeat fails; a timeout wrapped
// around it would leave a stale confirm for the channel's next Publish; its
// connection wrapper swaps the connection on reconnect without
// synchronisation (a data race under -race); and NewPublisher fails when
// the broker is down at start. Measured on the same broker, its throughput
// with a 128-channel pool was no better than the relay's.
//
// # Subscriber
//
// Subscriber (watermill-amqp underneath) declares a durable queue bound to
// the exchange with the given routing keys and hands each message, decoded
// into an Envelope, to a Handler, one at a time in queue order. It
// acknowledges after the handler succeeded, requeues after RetryDelay when
// it failed (or panicked), drops an event id it handled recently (a bounded
// LRU of DedupSize ids), and drops, with an error log, a body that is no
// event envelope. Headers that are not strings (x-death, x-delivery-count)
// are formatted as text instead of making the message undecodable, which
// with watermill's default marshaler requeues it forever.
//
// Use from another Go service:
//
//	err := messaging.Subscribe(ctx, os.Getenv("AMQP_URL"), messaging.SubscriberConfig{
//		Queue:       "state-manager.tenant-events", // durable, shared by the service's instances
//		RoutingKeys: []string{"tenant.#"},          // or e.g. "tenant.waba_linked"
//	}, func(ctx context.Context, env messaging.Envelope) error {
//		// env.Type, env.TenantID, env.Version, env.Position, env.Data (no secrets),
//		// env.Headers["traceparent"]; env.Decode() gives the typed domain event.
//		return cache.Invalidate(ctx, string(env.TenantID), int64(env.Version))
//	}, logger)
//
// Handlers must be idempotent: after a failure an event can arrive twice,
// possibly beyond the LRU's memory. Per tenant, stream_version rises by one
// with each event, so "ignore a version not above the last one applied" is
// a sufficient guard for caches.
package messaging
