// Package handlers is the HTTP API, and only that: every route decodes the
// request, calls one method of the application (the App interface, which
// tenants.Service implements) and encodes the answer.
//
//   - routes.go is the whole route table: path, roles, handler.
//   - request.go reads requests: path and query parameters, bodies (JSON,
//     unknown fields named), If-Match, Idempotency-Key and who is asking.
//   - respond.go writes answers: the resource with its ETag, and RFC 9457
//     problems through one table from domain error kinds to status codes.
//   - middleware.go (request id, recovery, access log, limits), auth.go
//     (bearer API keys and roles) and tracing.go (a server span per request
//     when Config.TracerProvider is set).
//   - one file per resource for the routes themselves; stream.go is the
//     live feed (Server-Sent Events, woken by Config.Commits, exempt from the
//     request deadline, ended by CloseStreams at shutdown) and verify.go the
//     hash-chain checks and GET /api/whoami.
//   - /admin/ serves Config.Console (the console package) when it is set.
//
// It is the only package that imports gin. It knows no database, cache or
// broker: its tests run against a fake App, with no service reachable.
package handlers
