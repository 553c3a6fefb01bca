package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// Resolver answers "which tenant owns this id?" for platform services: Redis
// first, PostgreSQL on a miss. The result is the tenant context, JSON-ready,
// reflecting at least the events up to the minimum position (0: none).
type Resolver interface {
	ByPhoneNumber(ctx context.Context, phoneNumberID string, min domain.Position) (any, error)
	ByIntegration(ctx context.Context, integrationID string, min domain.Position) (any, error)
	ByTenant(ctx context.Context, id domain.TenantID, min domain.Position) (any, error)
}

const maxLookupLen = 128

func (s *Server) resolvePhone(c *gin.Context) {
	s.resolve(c, c.Param("phoneNumberId"), s.deps.Resolver.ByPhoneNumber)
}

func (s *Server) resolveIntegration(c *gin.Context) {
	s.resolve(c, c.Param("integrationId"), s.deps.Resolver.ByIntegration)
}

func (s *Server) resolveTenant(c *gin.Context) {
	s.resolve(c, c.Param("tenantId"), func(ctx context.Context, id string, min domain.Position) (any, error) {
		return s.deps.Resolver.ByTenant(ctx, domain.TenantID(id), min)
	})
}

func (s *Server) resolve(c *gin.Context, id string, lookup func(context.Context, string, domain.Position) (any, error)) {
	min, ok := s.minPosition(c)
	if !ok {
		return
	}
	// A value no tenant could hold (control characters, invalid UTF-8, too
	// long) is not looked up: it reaches neither Redis nor PostgreSQL.
	if !domain.ValidExternalID(id, maxLookupLen) {
		s.fail(c, domain.Errorf(domain.KindNotFound, "tenant-not-found", "no live tenant holds this id"))
		return
	}
	tc, err := lookup(c.Request.Context(), id, min)
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			err = domain.Errorf(domain.KindNotFound, "tenant-not-found", "no live tenant holds this id")
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, tc)
}
