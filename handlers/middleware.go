package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/internal/logctx"
)

const ctxRequestID = "tenant-service.request-id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// traceParentPattern is the W3C trace context header, version 00.
var traceParentPattern = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// requestContext assigns a request id (the caller's X-Request-ID when it is
// sane) and echoes it, and puts it, with the tenant the route names, in the
// request's context: every line logged for the request carries both.
func (s *Server) requestContext(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !requestIDPattern.MatchString(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	tenant := ""
	if raw := c.Param("tenantId"); raw != "" {
		if t, err := domain.ParseTenantID(raw); err == nil {
			tenant = string(t)
		}
	}
	c.Request = c.Request.WithContext(logctx.With(c.Request.Context(), id, tenant))
	if s.tracer != nil {
		s.traceRequest(c)
		return
	}
	c.Next()
}

// recovery turns a panic into a logged 500 problem; the process keeps serving.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			if !c.Writer.Written() {
				s.fail(c, fmt.Errorf("panic in handler: %v", r))
			} else {
				s.log.ErrorContext(c.Request.Context(), "panic in handler", "panic", fmt.Sprint(r), "route", c.FullPath())
			}
		}
	}()
	c.Next()
}

// accessLog logs one structured line per request and feeds the metrics.
// It never logs headers or bodies: they may hold keys and secrets. It runs
// on every request, resolves included, so it logs typed attributes (no
// boxing into interfaces) and skips building the line when info is off.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.observe(c.Request.Method, route, status, elapsed)
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return
	}
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", c.Request.Method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.String("actor", actor(c)), slog.Int("bytes", c.Writer.Size()))
}

// tooLarge is the 413 of a body over limit bytes.
func tooLarge(limit int64) error {
	return domain.Errorf(domain.KindTooLarge, "body-too-large", "the request body is larger than %d bytes", limit)
}

// limitBody caps request bodies; reading past the cap fails the decode with 413.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.MaxBodyBytes {
		s.fail(c, tooLarge(s.cfg.MaxBodyBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	c.Next()
}

// deadline bounds the request's context, so every query and call under it
// gives up in time. The live event stream is exempt: it lasts as long as its
// client stays (or until CloseStreams), and bounds each write instead.
func (s *Server) deadline(c *gin.Context) {
	if c.FullPath() == streamPath {
		c.Next()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}
