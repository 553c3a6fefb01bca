package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// statusOf is the one table from domain error kinds to HTTP status codes.
// Every error a route answers goes through it (fail); an error of no kind
// here is a 500.
var statusOf = map[domain.Kind]int{
	domain.KindInvalid:          http.StatusBadRequest,
	domain.KindUnauthorized:     http.StatusUnauthorized,
	domain.KindForbidden:        http.StatusForbidden,
	domain.KindNotFound:         http.StatusNotFound,
	domain.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	domain.KindConflict:         http.StatusConflict,
	domain.KindPrecondition:     http.StatusPreconditionFailed,
	domain.KindTooLarge:         http.StatusRequestEntityTooLarge,
	domain.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	domain.KindRefused:          http.StatusUnprocessableEntity,
	domain.KindRateLimited:      http.StatusTooManyRequests,
	domain.KindUpstream:         http.StatusBadGateway,
	domain.KindUnavailable:      http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem body with this service's extensions.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	Code      string              `json:"code"`
	Errors    []domain.FieldError `json:"errors,omitempty"`
	RequestID string              `json:"requestId,omitempty"`
	// Upstream carries what Meta or Genesys said, for 502s.
	Upstream any `json:"upstream,omitempty"`
}

// problemTypeBase prefixes problem type URIs.
const problemTypeBase = "urn:tenant-service:problem:"

// internalError is what the client learns of an error of no known kind.
var internalError = &domain.Error{Kind: domain.KindInternal, Code: "internal-error", Detail: "internal error"}

// fail writes the problem for err and aborts the request: the status from
// statusOf, Retry-After when the error says when to retry. An error of no
// known kind is a 500 whose chain is logged while the client sees only
// "internal error" and the request id; 5xx answers are logged too.
func (s *Server) fail(c *gin.Context, err error) {
	de, ok := domain.AsError(err)
	status := 0
	if ok {
		status = statusOf[de.Kind]
	}
	if status == 0 {
		s.log.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(),
			"method", c.Request.Method, "route", c.FullPath())
		de, status = internalError, http.StatusInternalServerError
	} else if status >= 500 {
		s.log.WarnContext(c.Request.Context(), "request failed", "error", err.Error(), "status", status,
			"route", c.FullPath())
	}
	if de.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((de.RetryAfter+999_999_999)/1_000_000_000)))
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, Problem{Type: problemTypeBase + de.Code, Title: http.StatusText(status), Status: status,
		Detail: de.Detail, Instance: c.Request.URL.Path, Code: de.Code, Errors: de.Fields, RequestID: requestID(c),
		Upstream: de.Upstream})
}

// invalid writes a 400 naming one bad field.
func (s *Server) invalid(c *gin.Context, field, message string) {
	s.fail(c, domain.Invalid(domain.FieldError{Field: field, Message: message}))
}

func etag(v domain.Version) string { return `"` + strconv.FormatInt(int64(v), 10) + `"` }

// respondTenant writes the tenant view with its ETag.
func (s *Server) respondTenant(c *gin.Context, status int, st domain.State) {
	c.Header("ETag", etag(st.Version))
	c.JSON(status, viewOf(st))
}

// answer writes the outcome of a command: the tenant with its ETag, marked
// when it replays an earlier request with the same Idempotency-Key.
func (s *Server) answer(c *gin.Context, status int, out domain.Outcome, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	if out.Duplicate {
		c.Header("Idempotent-Replayed", "true")
	}
	s.labelTenant(c, out.State.TenantID)
	s.respondTenant(c, status, out.State)
}
