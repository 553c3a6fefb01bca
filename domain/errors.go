package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a domain error. The HTTP layer maps each kind to one status
// code in a single table.
type Kind int

// The kinds of error the domain and its adapters report.
const (
	KindInternal         Kind = iota // unexpected; never shown in detail
	KindInvalid                      // malformed input (400)
	KindNotFound                     // unknown tenant or resource (404)
	KindConflict                     // concurrent write or a claimed unique value (409)
	KindPrecondition                 // a stale expected version (412)
	KindRefused                      // a valid request the current state refuses (422)
	KindUnavailable                  // a dependency the request needs is down (503)
	KindUpstream                     // Meta or Genesys refused or failed (502)
	KindUnauthorized                 // no or bad credentials (401)
	KindForbidden                    // wrong role (403)
	KindRateLimited                  // too many requests (429)
	KindTooLarge                     // a request body over the limit (413)
	KindUnsupportedMedia             // a request body that is not JSON (415)
	KindMethodNotAllowed             // a route that exists, with another method (405)
)

// kindNames are the kinds as metrics and logs name them.
var kindNames = [...]string{KindInternal: "internal", KindInvalid: "invalid", KindNotFound: "not_found",
	KindConflict: "conflict", KindPrecondition: "precondition", KindRefused: "refused", KindUnavailable: "unavailable",
	KindUpstream: "upstream", KindUnauthorized: "unauthorized", KindForbidden: "forbidden", KindRateLimited: "rate_limited",
	KindTooLarge: "too_large", KindUnsupportedMedia: "unsupported_media", KindMethodNotAllowed: "method_not_allowed"}

// String names the kind in snake case (not_found, rate_limited, ...).
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "internal"
}

// FieldError names one bad input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a kind and a stable machine-readable code.
type Error struct {
	Kind   Kind
	Code   string       // stable, kebab-case, e.g. "tenant-deleted"
	Detail string       // a sentence for humans
	Fields []FieldError // one entry per bad field, for KindInvalid
	Err    error        // optional cause, not shown to clients
	// RetryAfter, for KindRateLimited and KindUnavailable, says when a
	// retry may succeed (the Retry-After header); zero when unknown.
	RetryAfter time.Duration
	// Upstream carries what Meta or Genesys answered, for KindUpstream: no
	// secrets, shown to the client.
	Upstream any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return e.Code + ": " + e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return KindInternal
}

// AsError returns the first *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var de *Error
	ok := errors.As(err, &de)
	return de, ok
}

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Invalid builds a KindInvalid error naming each bad field.
func Invalid(fields ...FieldError) *Error {
	detail := "the request has invalid fields"
	if len(fields) == 1 {
		detail = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: "invalid-request", Detail: detail, Fields: fields}
}

// Errors shared by commands and adapters.
var (
	ErrTenantNotFound  = &Error{Kind: KindNotFound, Code: "tenant-not-found", Detail: "no tenant with this id"}
	ErrTenantDeleted   = &Error{Kind: KindRefused, Code: "tenant-deleted", Detail: "the tenant is deleted; it accepts no more changes"}
	ErrTenantExists    = &Error{Kind: KindConflict, Code: "tenant-exists", Detail: "a tenant with this id already exists"}
	ErrConcurrentWrite = &Error{Kind: KindConflict, Code: "concurrent-write", Detail: "the tenant was changed by another request; reload and retry"}
)

// StaleVersion reports that the caller's expected version is not the current one.
func StaleVersion(expected, actual Version) *Error {
	return &Error{Kind: KindPrecondition, Code: "version-mismatch",
		Detail: fmt.Sprintf("expected version %d but the tenant is at version %d", expected, actual)}
}
