// Package domain holds the Tenant aggregate: its commands, its events and the
// rules that decide between them. State is rebuilt purely by applying events.
//
// The package imports only the standard library; a test keeps it so. Time is
// injected (Tenant.Clock), never read from a global.
package domain
