// Package handlers is the HTTP API: one file per resource, problem.go (RFC
// 9457 problem responses and the one table from domain error kinds to status
// codes), middleware.go (request id, recovery, logging, limits) and auth.go
// (bearer API keys and roles). It is the only package that imports gin, and
// it declares the interfaces it needs; cmd/tenant-service wires them.
package handlers
