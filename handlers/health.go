package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz runs every dependency check in parallel, each bounded to 2 s. It
// names each dependency and whether it answers, nothing more: a check's
// error can hold an address, a user or a database name, so it goes to the
// log, not to whoever can reach /readyz.
func (s *Server) readyz(c *gin.Context) {
	type result struct {
		Status string `json:"status"`
	}
	results := make(map[string]result, len(s.cfg.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range s.cfg.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
			defer cancel()
			r := result{Status: "up"}
			if err := check(ctx); err != nil {
				r.Status = "down"
				s.log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err.Error())
			}
			mu.Lock()
			results[name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ready", http.StatusOK
	for _, r := range results {
		if r.Status != "up" {
			status, code = "not ready", http.StatusServiceUnavailable
		}
	}
	c.JSON(code, gin.H{"status": status, "checks": results})
}
