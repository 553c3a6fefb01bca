package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// Bounds of a page of GET /api/events/verify.
const (
	defaultVerifyPage = 10000
	maxVerifyPage     = 100000
)

// StreamVerificationView is the answer of GET /api/tenants/:tenantId/verify.
type StreamVerificationView struct {
	OK       bool             `json:"ok"`
	StreamID string           `json:"streamId"`
	Version  domain.Version   `json:"version"`
	Checked  int64            `json:"checked"`
	Break    *StreamBreakView `json:"break"`
}

// StreamBreakView is where a tenant's stream first fails its hashes.
type StreamBreakView struct {
	Position domain.Position `json:"position"`
	Version  domain.Version  `json:"version"`
	Reason   string          `json:"reason"`
}

// FeedVerificationView is the answer of GET /api/events/verify.
type FeedVerificationView struct {
	OK      bool            `json:"ok"`
	From    domain.Position `json:"from"`
	To      domain.Position `json:"to"`
	Checked int64           `json:"checked"`
	Head    domain.Position `json:"head"`
	// NextAfterPosition continues with the next page; null when the page
	// reached the head.
	NextAfterPosition *domain.Position `json:"nextAfterPosition"`
	Break             *FeedBreakView   `json:"break"`
}

// FeedBreakView is where the global chain first fails its hashes.
type FeedBreakView struct {
	Position domain.Position `json:"position"`
	StreamID string          `json:"streamId"`
	Reason   string          `json:"reason"`
}

// verifyTenant checks the hash chain of the tenant's stream.
func (s *Server) verifyTenant(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	res, err := s.app.VerifyTenant(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := StreamVerificationView{OK: res.Break == nil, StreamID: res.StreamID, Version: res.Version, Checked: res.Checked}
	if b := res.Break; b != nil {
		v.Break = &StreamBreakView{Position: b.Position, Version: b.Version, Reason: b.Reason}
	}
	c.JSON(http.StatusOK, v)
}

// verifyFeed checks one page of the global chain after ?afterPosition=,
// anchored at that position's chain hash.
func (s *Server) verifyFeed(c *gin.Context) {
	after, ok := s.nonNegative(c, "afterPosition")
	if !ok {
		return
	}
	limit := defaultVerifyPage
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxVerifyPage {
			s.invalid(c, "limit", "must be a whole number from 1 to "+strconv.Itoa(maxVerifyPage))
			return
		}
		limit = n
	}
	res, err := s.app.VerifyFeed(c.Request.Context(), domain.Position(after), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := FeedVerificationView{OK: res.Break == nil, From: res.From, To: res.To, Checked: res.Checked, Head: res.Head}
	if res.To < res.Head {
		next := res.To
		v.NextAfterPosition = &next
	}
	if b := res.Break; b != nil {
		v.Break = &FeedBreakView{Position: b.Position, StreamID: b.StreamID, Reason: b.Reason}
	}
	c.JSON(http.StatusOK, v)
}

// WhoAmIView is the answer of GET /api/whoami.
type WhoAmIView struct {
	Role Role `json:"role"`
}

// whoami says which role the presented key has.
func (s *Server) whoami(c *gin.Context) {
	role, _ := c.Get(ctxRole)
	r, _ := role.(Role)
	c.JSON(http.StatusOK, WhoAmIView{Role: r})
}
