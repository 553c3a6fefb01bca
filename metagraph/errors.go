package metagraph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Steps name the Graph call that failed, in Error.Step.
const (
	StepExchangeCode = "exchange-code"
	StepDebugToken   = "debug-token"
	StepSubscribeApp = "subscribe-app"
	StepPhoneNumbers = "phone-numbers"
)

// Error is a failed Graph call: Meta's refusal in Graph's error shape
// ({"error":{"message","type","code","error_subcode","fbtrace_id",...}}), an
// answer that could not be understood, or no answer at all (HTTPStatus 0,
// Err set). Its strings never contain tokens, codes or the app secret.
type Error struct {
	Step        string // which call failed, one of the Step constants
	HTTPStatus  int    // Meta's HTTP status; 0 when no answer arrived
	Code        int    // Graph error code, e.g. 100, 190; 0 when none
	Subcode     int    // Graph error_subcode; 0 when none
	Type        string // e.g. "OAuthException"
	Message     string // Meta's message, or ours when Meta gave none
	UserTitle   string // error_user_title, when Meta gives one
	UserMessage string // error_user_msg, when Meta gives one
	FBTraceID   string // fbtrace_id (body, else x-fb-trace-id header); log it
	IsTransient bool   // Meta's is_transient flag, or a transport failure
	Err         error  // transport or decoding cause, already scrubbed
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "meta graph %s: ", e.Step)
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.FBTraceID != "" {
			fmt.Fprintf(&b, ", fbtrace_id %s", e.FBTraceID)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the transport or decoding cause, so errors.Is(err,
// context.DeadlineExceeded) works for timeouts.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether no answer came in time.
func (e *Error) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// TokenInvalid reports Graph code 190: the token expired or was revoked.
func (e *Error) TokenInvalid() bool { return e.Code == 190 }

// Throttled reports Graph's rate-limit codes (4, 17, 32, 341, 613).
func (e *Error) Throttled() bool {
	switch e.Code {
	case 4, 17, 32, 341, 613:
		return true
	}
	return false
}

// AsError returns the first *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var ge *Error
	ok := errors.As(err, &ge)
	return ge, ok
}
