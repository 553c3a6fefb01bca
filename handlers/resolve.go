package handlers

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

func (s *Server) resolvePhone(c *gin.Context) {
	s.resolve(c, c.Param("phoneNumberId"), s.app.ResolvePhone)
}

func (s *Server) resolveIntegration(c *gin.Context) {
	s.resolve(c, c.Param("integrationId"), s.app.ResolveIntegration)
}

func (s *Server) resolveTenant(c *gin.Context) {
	s.resolve(c, c.Param("tenantId"), func(ctx context.Context, id string, min domain.Position) (json.RawMessage, error) {
		return s.app.ResolveTenant(ctx, domain.TenantID(id), min)
	})
}

// resolve answers the tenant context JSON as the application has it, bytes
// as they are.
func (s *Server) resolve(c *gin.Context, id string, lookup func(context.Context, string, domain.Position) (json.RawMessage, error)) {
	min, ok := s.minPosition(c)
	if !ok {
		return
	}
	raw, err := lookup(c.Request.Context(), id, min)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", raw)
}
