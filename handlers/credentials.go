package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

type credentialsRequest struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Region       string `json:"region"`
}

// putCredentials stores Genesys OAuth client credentials: GenesysCredentialsSet
// the first time, CredentialsRotated afterwards.
func (s *Server) putCredentials(c *gin.Context) {
	var req credentialsRequest
	id, w, ok := s.commandWithBody(c, &req)
	if !ok {
		return
	}
	out, err := s.app.SetGenesysCredentials(c.Request.Context(), id, req.ClientID, req.ClientSecret, req.Region, w)
	s.answerCredentials(c, out, err)
}

type integrationRequest struct {
	IntegrationID string `json:"integrationId"`
	WebhookSecret string `json:"webhookSecret"` // optional; absent or empty: none
}

// putIntegration links the Open Messaging integration (and its webhook
// secret); the id is unique across live tenants.
func (s *Server) putIntegration(c *gin.Context) {
	var req integrationRequest
	id, w, ok := s.commandWithBody(c, &req)
	if !ok {
		return
	}
	out, err := s.app.LinkGenesysIntegration(c.Request.Context(), id, req.IntegrationID, req.WebhookSecret, w)
	s.answerCredentials(c, out, err)
}

// commandWithBody is the start of a command on a tenant with a JSON body:
// the tenant id, the strictly decoded body (into req) and what every command
// shares.
func (s *Server) commandWithBody(c *gin.Context, req any) (domain.TenantID, domain.Write, bool) {
	id, ok := s.tenantID(c)
	if !ok {
		return "", domain.Write{}, false
	}
	raw, ok := s.readJSON(c, req)
	if !ok {
		return "", domain.Write{}, false
	}
	w, ok := s.write(c, raw)
	return id, w, ok
}

func (s *Server) answerCredentials(c *gin.Context, out domain.Outcome, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etag(out.State.Version))
	c.JSON(http.StatusOK, credentialsView(out.State))
}

// CredentialsView is the masked Genesys configuration.
type CredentialsView struct {
	TenantID      domain.TenantID `json:"tenantId"`
	ClientID      string          `json:"clientId"`
	ClientSecret  string          `json:"clientSecret"` // "****" + last 4
	Region        string          `json:"region"`
	IntegrationID string          `json:"integrationId,omitempty"`
	WebhookSecret string          `json:"webhookSecret,omitempty"` // masked
	UpdatedAt     *time.Time      `json:"updatedAt,omitempty"`
	Version       domain.Version  `json:"version"`
}

func credentialsView(st domain.State) CredentialsView {
	v := CredentialsView{TenantID: st.TenantID, Version: st.Version}
	if g := viewOf(st).Genesys; g != nil {
		v.ClientID, v.ClientSecret, v.Region = g.ClientID, g.ClientSecret, g.Region
		v.IntegrationID, v.WebhookSecret, v.UpdatedAt = g.IntegrationID, g.WebhookSecret, g.CredentialsUpdatedAt
	}
	return v
}

func (s *Server) getCredentials(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	st, err := s.app.Credentials(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etag(st.Version))
	c.JSON(http.StatusOK, credentialsView(st))
}

// secretRoute is the start of a route that hands out a secret: the tenant
// id and minPosition (checked: the secret routes read the tenants table,
// which always reflects it, or honour it themselves).
func (s *Server) secretRoute(c *gin.Context) (domain.TenantID, domain.Position, bool) {
	id, ok := s.tenantID(c)
	if !ok {
		return "", 0, false
	}
	min, ok := s.minPosition(c)
	return id, min, ok
}

func (s *Server) getCredentialsSecret(c *gin.Context) {
	id, _, ok := s.secretRoute(c)
	if !ok {
		return
	}
	out, err := s.app.GenesysSecrets(c.Request.Context(), id)
	s.answerSecret(c, out, err)
}

func (s *Server) getGenesysToken(c *gin.Context) {
	id, _, ok := s.secretRoute(c)
	if !ok {
		return
	}
	out, err := s.app.GenesysToken(c.Request.Context(), id)
	s.answerSecret(c, out, err)
}

// answerSecret writes a secret no cache may keep.
func (s *Server) answerSecret(c *gin.Context, secret any, err error) {
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, secret)
}
