package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// Resolver answers "which tenant owns this id?" for platform services: Redis
// first, PostgreSQL on a miss. The result is the tenant context, JSON-ready.
type Resolver interface {
	ByPhoneNumber(ctx context.Context, phoneNumberID string) (any, error)
	ByIntegration(ctx context.Context, integrationID string) (any, error)
}

const maxLookupLen = 128

func (s *Server) resolvePhone(c *gin.Context) {
	s.resolve(c, c.Param("phoneNumberId"), s.deps.Resolver.ByPhoneNumber)
}

func (s *Server) resolveIntegration(c *gin.Context) {
	s.resolve(c, c.Param("integrationId"), s.deps.Resolver.ByIntegration)
}

func (s *Server) resolve(c *gin.Context, id string, lookup func(context.Context, string) (any, error)) {
	if id == "" || len(id) > maxLookupLen {
		s.fail(c, domain.Errorf(domain.KindNotFound, "tenant-not-found", "no live tenant holds this id"))
		return
	}
	tc, err := lookup(c.Request.Context(), id)
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			err = domain.Errorf(domain.KindNotFound, "tenant-not-found", "no live tenant holds this id")
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, tc)
}
