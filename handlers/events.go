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
	page, err := s.app.Events(c.Request.Context(), id, domain.Version(after), limit, filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pageOf(page))
}

// pageOf is the list response of a page of events: nextCursor continues
// after it (a page can be short, even empty, and still have a next one: a
// page examines a bounded number of events).
func pageOf(p domain.EventPage) Page[EventView] {
	next := ""
	if p.Next > 0 {
		next = strconv.FormatInt(p.Next, 10)
	}
	return Page[EventView]{Items: eventViews(p.Events), NextCursor: next, HeadPosition: int64(p.Head)}
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
	page, err := s.app.Feed(c.Request.Context(), domain.Position(after), limit, filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pageOf(page))
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
