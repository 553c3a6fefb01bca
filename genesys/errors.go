package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"tenant-service/internal/redact"
)

// Error is a token request that failed: Genesys refused it (HTTPStatus set,
// Code and Description from its body) or no answer came (HTTPStatus 0, Err
// set). Its strings never contain the client secret.
type Error struct {
	HTTPStatus  int    // Genesys' HTTP status; 0 when no answer arrived
	Code        string // OAuth "error" (e.g. "invalid_client") or the platform error code
	Description string // Genesys' description, or ours when it gave none
	ContextID   string // ININ-Correlation-Id or contextId, for Genesys support; log it
	Cached      bool   // served from the failure cache, Genesys was not asked again
	Err         error  // transport cause, already scrubbed
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("genesys token: ")
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Description)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.ContextID != "" {
			b.WriteString(", context id " + e.ContextID)
		}
		b.WriteString(")")
	}
	if e.Cached {
		b.WriteString(" (cached)")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the transport cause.
func (e *Error) Unwrap() error { return e.Err }

// Refused reports that Genesys rejected the credentials or the request (HTTP
// 400, 401 or 403): asking again with the same credentials will not help.
func (e *Error) Refused() bool {
	switch e.HTTPStatus {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// Timeout reports whether no answer came in time.
func (e *Error) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// refusal decodes Genesys' OAuth error ({"error","description",
// "error_description"}) or platform error ({"message","code","contextId"}).
func refusal(status int, body []byte, correlation, secret string) *Error {
	var b struct {
		Error            string `json:"error"`
		Description      string `json:"description"`
		ErrorDescription string `json:"error_description"`
		Message          string `json:"message"`
		Code             string `json:"code"`
		ContextID        string `json:"contextId"`
	}
	_ = json.Unmarshal(body, &b)
	e := &Error{HTTPStatus: status, Code: firstOf(b.Error, b.Code),
		Description: redact.Scrub(firstOf(b.ErrorDescription, b.Description, b.Message), secret),
		ContextID:   firstOf(b.ContextID, correlation)}
	if e.Description == "" {
		e.Description = "Genesys Cloud answered HTTP " + fmt.Sprint(status)
	}
	e.Code = redact.Scrub(e.Code, secret)
	return e
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// transportError wraps a failure to get an answer, without the URL's user
// info or query and without the secret.
func transportError(err error, secret string) *Error {
	e := &Error{Err: redact.Wrap(err, secret)}
	if e.Timeout() {
		e.Description = "Genesys Cloud did not answer in time"
	} else {
		e.Description = "Genesys Cloud could not be reached"
	}
	return e
}
