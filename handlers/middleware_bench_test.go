package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkAccessLog is the cost of the access log on a resolve-sized
// answer: a gin engine whose one route answers a tenant context, with and
// without the accessLog middleware, logging JSON lines to io.Discard at
// info (as in production: every line written) and with info disabled.
// The access log's own cost is the difference between "bare" and the others.
//
//	go test -run '^$' -bench AccessLog -benchmem ./handlers/
func BenchmarkAccessLog(b *testing.B) {
	body := []byte(`{"tenantId":"5f0c4a52-1d4e-4b6a-9c0f-2e5d8b1a6c33","name":"Acme","status":"active","version":3,` +
		`"whatsapp":null,"genesys":null,"rateLimit":null}`)
	for _, bc := range []struct {
		name  string
		log   bool
		level slog.Level
	}{{"bare", false, slog.LevelInfo}, {"info", true, slog.LevelInfo}, {"info-disabled", true, slog.LevelWarn}} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Server{log: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: bc.level})),
				metrics: newMetrics(prometheus.NewRegistry())}
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			if bc.log {
				r.Use(s.accessLog)
			}
			r.GET("/api/resolve/whatsapp/:phoneNumberId", func(c *gin.Context) {
				// What requestContext and authenticate set before the route.
				c.Set(ctxRequestID, "0123456789abcdef01234567")
				c.Set(ctxActor, "service:3f9a1c2b")
				c.Data(http.StatusOK, "application/json; charset=utf-8", body)
			})
			req := httptest.NewRequest("GET", "/api/resolve/whatsapp/1122334455", nil)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				r.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the router and the middleware rather than a recorder.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
