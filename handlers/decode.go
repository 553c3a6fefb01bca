package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

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
	if name := unknownField(raw, reflect.TypeOf(v)); name != "" {
		s.fail(c, domain.Invalid(domain.FieldError{Field: name, Message: "is not a known field"}))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
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
