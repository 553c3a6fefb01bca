package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	w, ok := s.write(c, raw)
	if !ok {
		return
	}
	in := domain.CreateTenant{Name: *req.Name, ExternalRef: req.ExternalRef}
	if req.Settings != nil {
		in.Settings = *req.Settings
	}
	out, err := s.app.Create(c.Request.Context(), in, w)
	if err == nil {
		c.Header("Location", "/api/tenants/"+string(out.State.TenantID))
	}
	s.answer(c, http.StatusCreated, out, err)
}

// maxSearchLen bounds ?q= of the tenant list.
const maxSearchLen = 200

// listTenants lists tenants a page at a time, filtered by ?status= and by
// ?q= (a case-insensitive part of the name or external reference).
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
	q := strings.TrimSpace(c.Query("q"))
	if len(q) > maxSearchLen || !utf8.ValidString(q) || strings.ContainsFunc(q, unicode.IsControl) {
		s.invalid(c, "q", fmt.Sprintf("must be text of at most %d bytes", maxSearchLen))
		return
	}
	items, next, err := s.app.Tenants(c.Request.Context(), statuses, q, c.Query("cursor"), limit)
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

// getTenant answers the current state, or with ?version= or ?asOf= the state
// replayed from the stream up to then.
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
	var st domain.State
	var err error
	if !hasVersion && asOf.IsZero() {
		st, err = s.app.Tenant(c.Request.Context(), id)
	} else {
		st, err = s.app.TenantAt(c.Request.Context(), id, domain.Version(version), asOf)
	}
	if err != nil {
		s.fail(c, err)
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
	w, ok := s.write(c, raw)
	if !ok {
		return
	}
	out, err := s.app.Update(c.Request.Context(), id, in, w)
	s.answer(c, http.StatusOK, out, err)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// statusAction serves suspend, reactivate and delete: an optional {reason} body.
func (s *Server) statusAction(c *gin.Context, act func(context.Context, domain.TenantID, string, domain.Write) (domain.Outcome, error)) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	var req reasonRequest
	raw, ok := s.optionalJSON(c, &req)
	if !ok {
		return
	}
	w, ok := s.write(c, raw)
	if !ok {
		return
	}
	out, err := act(c.Request.Context(), id, req.Reason, w)
	s.answer(c, http.StatusOK, out, err)
}

func (s *Server) suspendTenant(c *gin.Context)    { s.statusAction(c, s.app.Suspend) }
func (s *Server) reactivateTenant(c *gin.Context) { s.statusAction(c, s.app.Reactivate) }

// deleteTenant deletes the tenant; its secrets are crypto-shredded with it.
func (s *Server) deleteTenant(c *gin.Context) { s.statusAction(c, s.app.Delete) }
