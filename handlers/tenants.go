package handlers

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

type createTenantRequest struct {
	Name        *string          `json:"name"`
	ExternalRef string           `json:"externalRef"`
	Settings    *domain.Settings `json:"settings"`
}

func (s *Server) createTenant(c *gin.Context) {
	var req createTenantRequest
	raw, ok := s.readJSON(c, &req)
	if !ok {
		return
	}
	if req.Name == nil {
		s.invalid(c, "name", "is required")
		return
	}
	opts, ok := s.writeOptions(c, raw)
	if !ok {
		return
	}
	if opts.IfMatch != nil {
		s.invalid(c, "If-Match", "a new tenant has no version to match")
		return
	}
	in := domain.CreateTenant{Name: *req.Name, ExternalRef: req.ExternalRef}
	if req.Settings != nil {
		in.Settings = *req.Settings
	}
	id := domain.NewTenantID()
	res, err := s.deps.Writer.Execute(c.Request.Context(), id, opts, func(t *domain.Tenant) error {
		return t.Create(id, in)
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if res.Duplicate {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Header("Location", "/api/tenants/"+string(res.State.TenantID))
	s.respondTenant(c, http.StatusCreated, res.State)
}

func (s *Server) listTenants(c *gin.Context) {
	limit, ok := s.limit(c)
	if !ok {
		return
	}
	var statuses []domain.Status
	if raw := c.Query("status"); raw != "" {
		for _, p := range strings.Split(raw, ",") {
			st, ok := domain.ParseStatus(strings.TrimSpace(p))
			if !ok {
				s.invalid(c, "status", "must be active, suspended or deleted (comma-separated for several)")
				return
			}
			statuses = append(statuses, st)
		}
	}
	items, next, err := s.deps.Tenants.List(c.Request.Context(), statuses, c.Query("cursor"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	views := make([]TenantView, len(items))
	for i, st := range items {
		views[i] = viewOf(st)
	}
	c.JSON(http.StatusOK, Page[TenantView]{Items: views, NextCursor: next})
}

// getTenant answers the current state from the read model, or with ?version=
// or ?asOf= the state replayed from the stream up to then.
func (s *Server) getTenant(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	// The tenants table is written with the append, so it always reflects
	// any minPosition; the parameter is only checked.
	if _, ok := s.minPosition(c); !ok {
		return
	}
	version, ok := s.nonNegative(c, "version")
	if !ok {
		return
	}
	var asOf time.Time
	if raw := c.Query("asOf"); raw != "" {
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			s.invalid(c, "asOf", "must be an RFC 3339 time, e.g. 2026-11-27T14:02:00Z")
			return
		}
		asOf = t
	}
	_, hasVersion := c.GetQuery("version")
	if hasVersion && version == 0 {
		s.invalid(c, "version", "must be 1 or more")
		return
	}
	if !hasVersion && asOf.IsZero() {
		st, err := s.deps.Tenants.Get(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.respondTenant(c, http.StatusOK, st)
		return
	}
	st, err := s.deps.History.StateAt(c.Request.Context(), id, domain.Version(version), asOf)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch {
	case !st.Exists() && !asOf.IsZero():
		// The tenant may exist now but did not yet at asOf.
		s.fail(c, domain.Errorf(domain.KindNotFound, "tenant-not-found-at-time", "the tenant did not exist at %s", asOf.UTC().Format(time.RFC3339)))
		return
	case !st.Exists():
		s.fail(c, domain.ErrTenantNotFound)
		return
	case hasVersion && st.Version < domain.Version(version):
		s.fail(c, domain.Errorf(domain.KindNotFound, "version-not-found", "the tenant has no version %d; its latest is %d", version, st.Version))
		return
	}
	s.respondTenant(c, http.StatusOK, st)
}

type updateTenantRequest struct {
	Name        *string         `json:"name"`
	ExternalRef *string         `json:"externalRef"`
	Settings    json.RawMessage `json:"settings"`
}

func (s *Server) updateTenant(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	var req updateTenantRequest
	raw, ok := s.readJSON(c, &req)
	if !ok {
		return
	}
	in := domain.UpdateTenant{Name: req.Name, ExternalRef: req.ExternalRef}
	if len(req.Settings) > 0 {
		settings := domain.Settings{}
		if string(req.Settings) != "null" { // null clears the settings
			if name := unknownField(req.Settings, reflect.TypeOf(settings)); name != "" {
				s.invalid(c, "settings."+name, "is not a known field")
				return
			}
			if err := json.Unmarshal(req.Settings, &settings); err != nil {
				fe := jsonFieldError(err)
				if fe.Field != "body" {
					fe.Field = "settings." + fe.Field
				} else {
					fe.Field = "settings"
				}
				s.fail(c, domain.Invalid(fe))
				return
			}
		}
		in.Settings = &settings
	}
	opts, ok := s.writeOptions(c, raw)
	if !ok {
		return
	}
	s.execute(c, id, opts, http.StatusOK, func(t *domain.Tenant) error { return t.Update(in) })
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// statusAction serves suspend, reactivate and delete: an optional {reason} body.
func (s *Server) statusAction(c *gin.Context, shred bool, act func(*domain.Tenant, string) error) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	var req reasonRequest
	raw, ok := s.optionalJSON(c, &req)
	if !ok {
		return
	}
	opts, ok := s.writeOptions(c, raw)
	if !ok {
		return
	}
	opts.DestroyDataKey = shred
	s.execute(c, id, opts, http.StatusOK, func(t *domain.Tenant) error { return act(t, req.Reason) })
}

func (s *Server) suspendTenant(c *gin.Context) {
	s.statusAction(c, false, (*domain.Tenant).Suspend)
}

func (s *Server) reactivateTenant(c *gin.Context) {
	s.statusAction(c, false, (*domain.Tenant).Reactivate)
}

func (s *Server) deleteTenant(c *gin.Context) {
	s.statusAction(c, true, (*domain.Tenant).Delete)
}
