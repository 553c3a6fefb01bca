package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// asyncAPI serves the AsyncAPI document of the service's events, without a
// key: it describes the messages, never their content, and consuming
// services and tools read it before they hold a key.
func (s *Server) asyncAPI(c *gin.Context) {
	if len(s.cfg.AsyncAPI) == 0 {
		s.fail(c, domain.Errorf(domain.KindNotFound, "not-found", "this server has no AsyncAPI document"))
		return
	}
	c.Data(http.StatusOK, "application/json", s.cfg.AsyncAPI)
}
