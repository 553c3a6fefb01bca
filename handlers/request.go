package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/internal/tracing"
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
	switch {
	case s.tracer != nil:
		// The request's own span, a child of the caller's traceparent: the
		// relay's publish span continues it, so one trace shows the request,
		// its commit and the publishing of its events.
		m.TraceParent = tracing.TraceParent(c.Request.Context())
	case traceParentPattern.MatchString(c.GetHeader("traceparent")):
		m.TraceParent = c.GetHeader("traceparent")
	}
	return m
}

func actor(c *gin.Context) string {
	a, _ := c.Get(ctxActor)
	s, _ := a.(string)
	return s
}

func roleOf(c *gin.Context) Role {
	r, _ := c.Get(ctxRole)
	role, _ := r.(Role)
	return role
}

func requestID(c *gin.Context) string {
	v, _ := c.Get(ctxRequestID)
	s, _ := v.(string)
	return s
}

// readJSON reads the body (already size-limited), checks that it is JSON and
// decodes it strictly into v: unknown fields, trailing data, wrong types and
// malformed JSON are 400s naming the problem; a body over the limit is 413;
// another content type is 415. It returns the raw bytes for request hashing.
func (s *Server) readJSON(c *gin.Context, v any) ([]byte, bool) {
	raw, ok := s.readBody(c)
	if !ok {
		return nil, false
	}
	return raw, s.decodeJSON(c, raw, v)
}

// optionalJSON is readJSON for routes whose body is optional (the status
// actions' {reason}): an empty body is accepted whatever its Content-Type,
// as clients send Content-Type: application/json on every request.
func (s *Server) optionalJSON(c *gin.Context, v any) ([]byte, bool) {
	raw, ok := s.readBody(c)
	if !ok {
		return nil, false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, true
	}
	return raw, s.decodeJSON(c, raw, v)
}

// readBody reads the whole (size-limited) body.
func (s *Server) readBody(c *gin.Context) ([]byte, bool) {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(c, tooLarge(tooBig.Limit))
			return nil, false
		}
		s.fail(c, domain.Invalid(domain.FieldError{Field: "body", Message: "could not be read"}))
		return nil, false
	}
	return raw, true
}

// errNotJSON is the 415 of a body of another content type.
var errNotJSON = domain.Errorf(domain.KindUnsupportedMedia, "unsupported-media-type", "the request body must be application/json")

// decodeJSON checks the content type and decodes raw strictly into v.
func (s *Server) decodeJSON(c *gin.Context, raw []byte, v any) bool {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json" && !strings.HasSuffix(mt, "+json")) {
		s.fail(c, errNotJSON)
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		s.fail(c, domain.Invalid(domain.FieldError{Field: "body", Message: "a JSON object is required"}))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// An unknown field is named first, with its path, whatever else is
		// wrong. Only a body that failed needs the second, slower pass.
		if name := unknownField(raw, reflect.TypeOf(v)); name != "" {
			s.fail(c, domain.Invalid(domain.FieldError{Field: name, Message: "is not a known field"}))
			return false
		}
		s.fail(c, domain.Invalid(jsonFieldError(err)))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.fail(c, domain.Invalid(domain.FieldError{Field: "body", Message: "must hold a single JSON object and nothing after it"}))
		return false
	}
	return true
}

// jsonFieldError names the field a decoding error is about.
func jsonFieldError(err error) domain.FieldError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return domain.FieldError{Field: "body", Message: fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.FieldError{Field: "body", Message: "malformed JSON: unexpected end"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return domain.FieldError{Field: field, Message: "must be " + jsonTypeName(typ.Type.Kind().String())}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// Only reached when unknownField found no path; name the member.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return domain.FieldError{Field: name, Message: "is not a known field"}
	}
	return domain.FieldError{Field: "body", Message: "malformed JSON"}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number of the right range"
	case "bool":
		return "a boolean"
	case "struct", "map", "ptr":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "of another type"
}

// unknownField returns the dotted path of the first JSON object member that
// the target type has no field for ("" when there is none), so that a 400 can
// name a nested field such as "settings.speed". encoding/json's own error
// names only the member.
func unknownField(raw []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return walkUnknown(v, t, "")
}

func walkUnknown(v any, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	obj, ok := v.(map[string]any)
	if !ok || t.Kind() != reflect.Struct {
		return ""
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[strings.ToLower(name)] = f.Type
	}
	for k, child := range obj {
		ft, ok := fields[strings.ToLower(k)] // encoding/json matches names case-insensitively
		if !ok {
			return prefix + k
		}
		if ft == reflect.TypeOf(json.RawMessage(nil)) {
			continue
		}
		if p := walkUnknown(child, ft, prefix+k+"."); p != "" {
			return p
		}
	}
	return ""
}
