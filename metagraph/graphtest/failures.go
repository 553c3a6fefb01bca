package graphtest

import (
	"net/http"
	"time"
)

// Failure is an injected misbehaviour of one endpoint. With only Delay set the
// call still succeeds, late.
type Failure struct {
	// Status is the HTTP status. Default 400 for a Graph error, 500 for Body.
	Status int
	// Code, Subcode, Type, Message and IsTransient fill Graph's error
	// object. Type defaults to "OAuthException", Message to Meta's
	// "An unknown error has occurred.".
	Code        int
	Subcode     int
	Type        string
	Message     string
	IsTransient bool
	// Body, when set, is sent as is (text/html) instead of a Graph error,
	// like a proxy's error page.
	Body string
	// Delay holds the answer back; the request's cancellation ends the wait.
	Delay time.Duration
	// Times is how many calls the failure applies to. Default 0: every call
	// until ClearFailures.
	Times int
}

// SubscribeRefused is Meta refusing subscribed_apps for missing permission.
func SubscribeRefused() Failure {
	return Failure{Status: http.StatusForbidden, Code: 200, Type: "OAuthException",
		Message: "(#200) Permissions error"}
}

// ServerError is Graph's transient HTTP 500.
func ServerError() Failure {
	return Failure{Status: http.StatusInternalServerError, Code: 2, Type: "OAuthException",
		Message: "An unexpected error has occurred. Please retry your request later.", IsTransient: true}
}

// Throttled is Graph's application request limit (code 4).
func Throttled() Failure {
	return Failure{Status: http.StatusBadRequest, Code: 4, Type: "OAuthException",
		Message: "(#4) Application request limit reached", IsTransient: true}
}

// Slow answers normally after d.
func Slow(d time.Duration) Failure { return Failure{Delay: d} }

// Fail injects f into the endpoint. Failures apply in the order injected; one
// with Times 0 stays first (and applies to every call) until ClearFailures.
func (s *Server) Fail(ep Endpoint, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[ep] = append(s.failures[ep], &f)
}

// ClearFailures removes every injected failure.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = map[Endpoint][]*Failure{}
}

// takeFailure returns the failure for this call, if any, and uses it up.
func (s *Server) takeFailure(ep Endpoint) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.failures[ep]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	if q[0].Times > 0 {
		q[0].Times--
		if q[0].Times == 0 {
			s.failures[ep] = q[1:]
		}
	}
	return &f
}

// inject applies f and reports whether it answered the request.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, f *Failure) bool {
	sleep(r, f.Delay)
	if r.Context().Err() != nil {
		return true
	}
	switch {
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return true
	case f.Status != 0 || f.Code != 0:
		status, typ, msg := f.Status, f.Type, f.Message
		if status == 0 {
			status = http.StatusBadRequest
		}
		if typ == "" {
			typ = "OAuthException"
		}
		if msg == "" {
			msg = "An unknown error has occurred."
		}
		s.writeError(w, status, graphError{Message: msg, Type: typ, Code: f.Code, Subcode: f.Subcode, IsTransient: f.IsTransient})
		return true
	}
	return false
}
