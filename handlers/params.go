package handlers

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxIdemKeyLen   = 255
)

// tenantID parses the :tenantId path parameter; a value that is not a UUID
// cannot name a tenant, so it is a 404.
func (s *Server) tenantID(c *gin.Context) (domain.TenantID, bool) {
	id, err := domain.ParseTenantID(c.Param("tenantId"))
	if err != nil {
		s.fail(c, domain.ErrTenantNotFound)
		return "", false
	}
	return id, true
}

// limit parses ?limit= (default 50, at most 500).
func (s *Server) limit(c *gin.Context) (int, bool) {
	raw := c.Query("limit")
	if raw == "" {
		return defaultPageSize, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageSize {
		s.invalid(c, "limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
		return 0, false
	}
	return n, true
}

// nonNegative parses an optional whole-number query parameter.
func (s *Server) nonNegative(c *gin.Context, name string) (int64, bool) {
	raw := c.Query(name)
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		s.invalid(c, name, "must be a whole number, 0 or more")
		return 0, false
	}
	return n, true
}

// minPosition parses ?minPosition=: the answer must reflect every event up
// to that global position (a message's global_position header).
func (s *Server) minPosition(c *gin.Context) (domain.Position, bool) {
	raw := c.Query("minPosition")
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		s.invalid(c, "minPosition", "must be a whole number, 0 or more: the global_position of the event the answer must reflect")
		return 0, false
	}
	return domain.Position(n), true
}

// ifMatch parses If-Match: a version as ETag ("3", W/"3" or 3). "*" or no
// header means no expectation.
func (s *Server) ifMatch(c *gin.Context) (*domain.Version, bool) {
	raw := strings.TrimSpace(c.GetHeader("If-Match"))
	if raw == "" || raw == "*" {
		return nil, true
	}
	v := strings.Trim(strings.TrimPrefix(raw, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		s.invalid(c, "If-Match", `must be the tenant's ETag, e.g. "3"`)
		return nil, false
	}
	ver := domain.Version(n)
	return &ver, true
}

func etag(v domain.Version) string { return `"` + strconv.FormatInt(int64(v), 10) + `"` }

// write builds what every command shares: If-Match, who acts in which
// request, and the Idempotency-Key scoped to the caller and bound to the
// request (method, path and body).
func (s *Server) write(c *gin.Context, body []byte) (domain.Write, bool) {
	im, ok := s.ifMatch(c)
	if !ok {
		return domain.Write{}, false
	}
	w := domain.Write{IfMatch: im, Metadata: s.metadata(c)}
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		if len(key) > maxIdemKeyLen || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			s.invalid(c, "Idempotency-Key", fmt.Sprintf("must be 1 to %d printable ASCII characters", maxIdemKeyLen))
			return domain.Write{}, false
		}
		h := sha256.New()
		h.Write([]byte(c.Request.Method + " " + c.Request.URL.Path + "\n"))
		h.Write(body)
		w.Idempotency = &domain.Idempotency{Scope: actor(c) + "|" + key, RequestHash: h.Sum(nil)}
		w.Metadata.IdempotencyKey = key
	}
	return w, true
}

// metadata records who acts and in which request.
func (s *Server) metadata(c *gin.Context) domain.Metadata {
	m := domain.Metadata{Actor: actor(c), ActorRole: string(roleOf(c)), RequestID: requestID(c)}
	m.CorrelationID = c.GetHeader("X-Correlation-ID")
	if !requestIDPattern.MatchString(m.CorrelationID) {
		m.CorrelationID = m.RequestID
	}
	if cause := c.GetHeader("X-Causation-ID"); requestIDPattern.MatchString(cause) {
		m.CausationID = cause
	}
	if tp := c.GetHeader("traceparent"); traceParentPattern.MatchString(tp) {
		m.TraceParent = tp
	}
	return m
}

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
	s.respondTenant(c, status, out.State)
}
