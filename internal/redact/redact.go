// Package redact keeps secrets out of error messages from the outside-party
// clients (Meta Graph, Genesys login): it scrubs known secret values and
// rebuilds failed request URLs without their query strings (which carry
// codes, tokens and app secrets) or user info.
package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Placeholder replaces a scrubbed secret.
const Placeholder = "[redacted]"

// Scrub replaces every occurrence of the secrets in s. Secrets shorter than
// four bytes are not searched for: they would garble ordinary words.
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Placeholder)
		}
	}
	return s
}

// URL returns raw without its query, fragment and user info.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.RawQuery, u.ForceQuery, u.User, u.Fragment = "", false, nil, ""
	return u.String()
}

// Error is an error whose message had secrets removed; it still unwraps to
// its cause, so errors.Is works on context errors and timeouts.
type Error struct {
	msg   string
	cause error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// Wrap returns err with the secrets scrubbed from its message and, for a
// *url.Error, the URL redacted and the transport cause kept for unwrapping.
func Wrap(err error, secrets ...string) *Error {
	cause, msg := errors.Unwrap(err), err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
		msg = fmt.Sprintf("%s %s: %v", ue.Op, URL(ue.URL), ue.Err)
	}
	return &Error{msg: Scrub(msg, secrets...), cause: cause}
}
