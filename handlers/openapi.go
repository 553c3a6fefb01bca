package handlers

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is the OpenAPI 3.1 description of every route of this
// server. Tests keep it true: openapi_test.go compares it with the route
// table, and the end-to-end tests validate every request and answer they
// make against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is a hash of the document, so clients and caches revalidate
// instead of downloading it again.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// OpenAPIDocument returns the OpenAPI document the server serves at
// /openapi.json. The caller must not modify it.
func OpenAPIDocument() []byte { return openAPIDocument }

// openAPI serves the OpenAPI document without a key: it describes the
// routes, never their data, and clients and tools read it before they hold
// a key.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("ETag", openAPIETag)
	c.Header("Cache-Control", "no-cache")
	if etagMatches(c.GetHeader("If-None-Match"), openAPIETag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}

// etagMatches reports whether an If-None-Match header names tag (weakly
// compared, RFC 9110 section 13.1.2) or is "*".
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}
