package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// tenantEvents lists a tenant's stream after ?afterVersion= (or ?cursor=).
func (s *Server) tenantEvents(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	limit, ok := s.limit(c)
	if !ok {
		return
	}
	after, ok := s.cursorOr(c, "afterVersion")
	if !ok {
		return
	}
	filter, ok := s.eventFilter(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var events []domain.StoredEvent
	var err error
	if len(filter.Types) == 0 && filter.Actor == "" && filter.From.IsZero() && filter.To.IsZero() {
		events, err = s.deps.History.ReadStream(ctx, id.StreamID(), domain.Version(after), limit)
	} else {
		events, err = s.filteredStream(c, id, domain.Version(after), limit, filter)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(events) == 0 {
		// Nothing to show: an unknown tenant is a 404, a filter that matches
		// nothing an empty page.
		if _, err := s.deps.Tenants.Get(ctx, id); err != nil {
			s.fail(c, err)
			return
		}
	}
	next := ""
	if len(events) == limit {
		next = strconv.FormatInt(int64(events[len(events)-1].Version), 10)
	}
	c.JSON(http.StatusOK, Page[EventView]{Items: eventViews(events), NextCursor: next})
}

// filteredStream reads the tenant's events through the global feed filter,
// after a stream version.
func (s *Server) filteredStream(c *gin.Context, id domain.TenantID, after domain.Version, limit int, f domain.EventFilter) ([]domain.StoredEvent, error) {
	f.TenantID = id
	var out []domain.StoredEvent
	var pos domain.Position
	for len(out) < limit {
		page, err := s.deps.History.ReadAll(c.Request.Context(), pos, maxPageSize, f)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.Version > after && len(out) < limit {
				out = append(out, e)
			}
		}
		if len(page) < maxPageSize {
			break
		}
		pos = page[len(page)-1].Position
	}
	return out, nil
}

// allEvents lists the global feed after ?afterPosition= (or ?cursor=), with
// optional type, actor, tenantId and time filters.
func (s *Server) allEvents(c *gin.Context) {
	limit, ok := s.limit(c)
	if !ok {
		return
	}
	after, ok := s.cursorOr(c, "afterPosition")
	if !ok {
		return
	}
	filter, ok := s.eventFilter(c)
	if !ok {
		return
	}
	if raw := c.Query("tenantId"); raw != "" {
		id, err := domain.ParseTenantID(raw)
		if err != nil {
			s.invalid(c, "tenantId", "must be a UUID")
			return
		}
		filter.TenantID = id
	}
	events, err := s.deps.History.ReadAll(c.Request.Context(), domain.Position(after), limit, filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	next := ""
	if len(events) == limit {
		next = strconv.FormatInt(int64(events[len(events)-1].Position), 10)
	}
	c.JSON(http.StatusOK, Page[EventView]{Items: eventViews(events), NextCursor: next})
}

// cursorOr reads the named position parameter, or ?cursor= (the nextCursor of
// a previous page), which wins when both are given.
func (s *Server) cursorOr(c *gin.Context, name string) (int64, bool) {
	if raw := c.Query("cursor"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			s.invalid(c, "cursor", "is not a cursor this service issued")
			return 0, false
		}
		return n, true
	}
	return s.nonNegative(c, name)
}

func (s *Server) eventFilter(c *gin.Context) (domain.EventFilter, bool) {
	var f domain.EventFilter
	if raw := c.Query("type"); raw != "" {
		for _, t := range strings.Split(raw, ",") {
			t = strings.TrimSpace(t)
			if !domain.KnownEventType(t) {
				s.invalid(c, "type", "must be event type names such as TenantCreated, comma-separated")
				return f, false
			}
			f.Types = append(f.Types, t)
		}
	}
	f.Actor = c.Query("actor")
	if f.Actor != "" && !domain.ValidExternalID(f.Actor, 128) {
		s.invalid(c, "actor", "must be an actor identity such as admin:3f9a1c2b or meta:webhook")
		return f, false
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if raw := c.Query(p.name); raw != "" {
			t, err := time.Parse(time.RFC3339Nano, raw)
			if err != nil {
				s.invalid(c, p.name, "must be an RFC 3339 time, e.g. 2026-11-27T14:02:00Z")
				return f, false
			}
			*p.dst = t
		}
	}
	return f, true
}
