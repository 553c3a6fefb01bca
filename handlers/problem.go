package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// statusOf is the one table from domain error kinds to HTTP status codes.
var statusOf = map[domain.Kind]int{
	domain.KindInvalid:      http.StatusBadRequest,
	domain.KindUnauthorized: http.StatusUnauthorized,
	domain.KindForbidden:    http.StatusForbidden,
	domain.KindNotFound:     http.StatusNotFound,
	domain.KindConflict:     http.StatusConflict,
	domain.KindPrecondition: http.StatusPreconditionFailed,
	domain.KindRefused:      http.StatusUnprocessableEntity,
	domain.KindRateLimited:  http.StatusTooManyRequests,
	domain.KindUpstream:     http.StatusBadGateway,
	domain.KindUnavailable:  http.StatusServiceUnavailable,
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

// UpstreamDetail is implemented by errors from Meta or Genesys clients that
// can say what the upstream answered (never secrets).
type UpstreamDetail interface {
	UpstreamDetail() any
}

// fail writes the problem for err and aborts the request. Unmapped errors are
// 500s whose chain is logged while the client sees only "internal error".
func (s *Server) fail(c *gin.Context, err error) {
	de, ok := domain.AsError(err)
	status := 0
	if ok {
		status = statusOf[de.Kind]
	}
	if status == 0 && isBadInput(err) {
		s.log.WarnContext(c.Request.Context(), "a request value was refused by PostgreSQL; validation should have caught it",
			"error", err.Error(), "request_id", requestID(c), "route", c.FullPath())
		de, status, ok = domain.Invalid(domain.FieldError{Field: "request", Message: "holds a value that cannot be stored or looked up (invalid text)"}),
			http.StatusBadRequest, true
	}
	if status == 0 && isUnavailable(err) {
		de, status, ok = &domain.Error{Kind: domain.KindUnavailable, Code: "dependency-unavailable",
			Detail: "a service this request needs is unavailable; retry later"}, http.StatusServiceUnavailable, true
	}
	if status == 0 {
		s.log.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(),
			"request_id", requestID(c), "method", c.Request.Method, "route", c.FullPath())
		s.problem(c, http.StatusInternalServerError, "internal-error", "internal error", nil)
		return
	}
	if status >= 500 {
		s.log.WarnContext(c.Request.Context(), "request failed", "error", err.Error(), "status", status,
			"request_id", requestID(c), "route", c.FullPath())
	}
	p := s.newProblem(c, status, de.Code, de.Detail, de.Fields)
	var up UpstreamDetail
	if errors.As(err, &up) {
		p.Upstream = up.UpstreamDetail()
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, p)
}

func (s *Server) newProblem(c *gin.Context, status int, code, detail string, fields []domain.FieldError) Problem {
	return Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status,
		Detail: detail, Instance: c.Request.URL.Path, Code: code, Errors: fields, RequestID: requestID(c)}
}

// problem writes a problem response without a domain error.
func (s *Server) problem(c *gin.Context, status int, code, detail string, fields []domain.FieldError) {
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, s.newProblem(c, status, code, detail, fields))
}

// invalid writes a 400 naming one bad field.
func (s *Server) invalid(c *gin.Context, field, message string) {
	s.fail(c, domain.Invalid(domain.FieldError{Field: field, Message: message}))
}
