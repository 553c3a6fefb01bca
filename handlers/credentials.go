package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/genesys"
)

// Vault seals and opens tenant secrets (envelope encryption bound to tenant
// and field). Must be safe for concurrent use.
type Vault interface {
	SealRef(ctx context.Context, id domain.TenantID, field, plaintext string) (domain.SecretRef, error)
	OpenRef(ctx context.Context, id domain.TenantID, field string, ref domain.SecretRef) (string, error)
	// Live checks in PostgreSQL (never a cache) that the tenant's data key
	// was not destroyed; a destroyed one is a secrets-shredded error.
	Live(ctx context.Context, id domain.TenantID) error
}

// GenesysTokens hands out cached Genesys Cloud access tokens.
type GenesysTokens interface {
	Token(ctx context.Context, creds genesys.Credentials) (genesys.Token, error)
	Invalidate(ctx context.Context, tenantID string) error
}

type credentialsRequest struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Region       string `json:"region"`
}

// putCredentials stores Genesys OAuth client credentials: GenesysCredentialsSet
// the first time, CredentialsRotated afterwards.
func (s *Server) putCredentials(c *gin.Context) {
	var req credentialsRequest
	id, opts, ok := s.secretWrite(c, &req, func() error {
		return domain.ValidateGenesysCredentials(req.ClientID, req.ClientSecret, req.Region)
	})
	if !ok {
		return
	}
	secret, ok := s.sealOptional(c, id, domain.FieldGenesysClientSecret, req.ClientSecret)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	res, err := s.deps.Writer.Execute(ctx, id, opts, func(t *domain.Tenant) error {
		return t.SetGenesysCredentials(req.ClientID, req.Region, *secret)
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if s.deps.GenesysTokens != nil {
		// The cache is keyed by a fingerprint of the credentials as well; dropping it is tidiness.
		_ = s.deps.GenesysTokens.Invalidate(ctx, string(id))
	}
	c.Header("ETag", etag(res.State.Version))
	c.JSON(http.StatusOK, credentialsView(res.State))
}

// secretWrite is the shared start of the routes that store a secret: the
// tenant id, the strictly decoded body (into req), its validation, the
// write options, and a tenant that can take secrets — all before anything is
// sealed, so bad input creates no data key.
func (s *Server) secretWrite(c *gin.Context, req any, validate func() error) (domain.TenantID, WriteOptions, bool) {
	id, ok := s.tenantID(c)
	if !ok {
		return "", WriteOptions{}, false
	}
	raw, ok := s.readJSON(c, req)
	if !ok {
		return "", WriteOptions{}, false
	}
	if err := validate(); err != nil {
		s.fail(c, err)
		return "", WriteOptions{}, false
	}
	opts, ok := s.writeOptions(c, raw)
	if !ok || !s.writableTenant(c, id) {
		return "", WriteOptions{}, false
	}
	return id, opts, true
}

// sealOptional seals plaintext for the field unless it is empty.
func (s *Server) sealOptional(c *gin.Context, id domain.TenantID, field, plaintext string) (*domain.SecretRef, bool) {
	if plaintext == "" {
		return nil, true
	}
	ref, err := s.deps.Vault.SealRef(c.Request.Context(), id, field, plaintext)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	return &ref, true
}

// writableTenant answers 404/422 before secrets are sealed for a tenant that
// cannot take them (sealing would otherwise create a data key for nothing).
func (s *Server) writableTenant(c *gin.Context, id domain.TenantID) bool {
	st, err := s.deps.Tenants.Get(c.Request.Context(), id)
	switch {
	case err != nil:
		s.fail(c, err)
		return false
	case st.Status == domain.StatusDeleted:
		s.fail(c, domain.ErrTenantDeleted)
		return false
	}
	return true
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

var errNoCredentials = &domain.Error{Kind: domain.KindNotFound, Code: "genesys-credentials-not-set",
	Detail: "the tenant has no Genesys credentials"}

// secretsShredded says plainly why a deleted tenant's secrets cannot be had.
var errSecretsShredded = &domain.Error{Kind: domain.KindRefused, Code: "secrets-shredded",
	Detail: "the tenant is deleted and its data key was destroyed: its secrets can no longer be decrypted"}

func (s *Server) getCredentials(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	st, err := s.deps.Tenants.Get(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if st.Genesys == nil || st.Genesys.ClientID == "" {
		s.fail(c, errNoCredentials)
		return
	}
	c.Header("ETag", etag(st.Version))
	c.JSON(http.StatusOK, credentialsView(st))
}

// SecretCredentials is what the service route hands out.
type SecretCredentials struct {
	TenantID      domain.TenantID `json:"tenantId"`
	ClientID      string          `json:"clientId"`
	ClientSecret  string          `json:"clientSecret"`
	Region        string          `json:"region"`
	IntegrationID string          `json:"integrationId,omitempty"`
	WebhookSecret string          `json:"webhookSecret,omitempty"`
	Status        domain.Status   `json:"status"`
	Version       domain.Version  `json:"version"`
}

// liveGenesys loads a tenant that can hand out Genesys secrets.
func (s *Server) liveGenesys(c *gin.Context) (domain.State, bool) {
	id, ok := s.tenantID(c)
	if !ok {
		return domain.State{}, false
	}
	// Read from the tenants table, which is always current: any minPosition holds.
	if _, ok := s.minPosition(c); !ok {
		return domain.State{}, false
	}
	st, err := s.deps.Tenants.Get(c.Request.Context(), id)
	switch {
	case err != nil:
		s.fail(c, err)
		return st, false
	case st.Status == domain.StatusDeleted:
		s.fail(c, errSecretsShredded)
		return st, false
	case st.Genesys == nil || st.Genesys.ClientSecret == nil:
		s.fail(c, errNoCredentials)
		return st, false
	}
	return st, s.allowTenant(c, st)
}

// clientSecret loads a tenant that can hand out Genesys secrets and opens
// its client secret.
func (s *Server) clientSecret(c *gin.Context) (domain.State, string, bool) {
	st, ok := s.liveGenesys(c)
	if !ok || !s.liveKey(c, st.TenantID) {
		return st, "", false
	}
	secret, err := s.deps.Vault.OpenRef(c.Request.Context(), st.TenantID, domain.FieldGenesysClientSecret, *st.Genesys.ClientSecret)
	if err != nil {
		s.fail(c, err)
		return st, "", false
	}
	return st, secret, true
}

func (s *Server) getCredentialsSecret(c *gin.Context) {
	st, secret, ok := s.clientSecret(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	g := st.Genesys
	var err error
	out := SecretCredentials{TenantID: st.TenantID, ClientID: g.ClientID, ClientSecret: secret, Region: g.Region,
		IntegrationID: g.IntegrationID, Status: st.Status, Version: st.Version}
	if g.WebhookSecret != nil {
		if out.WebhookSecret, err = s.deps.Vault.OpenRef(ctx, st.TenantID, domain.FieldGenesysWebhookSecret, *g.WebhookSecret); err != nil {
			s.fail(c, err)
			return
		}
	}
	noStore(c)
	c.JSON(http.StatusOK, out)
}

// TokenResponse is a Genesys Cloud access token.
type TokenResponse struct {
	AccessToken string    `json:"accessToken"`
	TokenType   string    `json:"tokenType"`
	ExpiresIn   int       `json:"expiresIn"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Region      string    `json:"region"`
}

func (s *Server) getGenesysToken(c *gin.Context) {
	st, secret, ok := s.clientSecret(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	g := st.Genesys
	version := ""
	if g.CredentialsUpdatedAt != nil {
		version = strconv.FormatInt(g.CredentialsUpdatedAt.UnixNano(), 10)
	}
	tok, err := s.deps.GenesysTokens.Token(ctx, genesys.Credentials{TenantID: string(st.TenantID), Region: g.Region,
		ClientID: g.ClientID, ClientSecret: secret, Version: version})
	if err != nil {
		s.fail(c, genesysError(err))
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, TokenResponse{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn,
		ExpiresAt: time.Now().UTC().Add(time.Duration(tok.ExpiresIn) * time.Second).Truncate(time.Second), Region: g.Region})
}

// upstreamError is a 502 that carries what the upstream said.
type upstreamError struct {
	err    *domain.Error
	detail any
}

func (e upstreamError) Error() string       { return e.err.Error() }
func (e upstreamError) UpstreamDetail() any { return e.detail }
func (e upstreamError) Unwrap() error       { return e.err }

// genesysError turns a Genesys failure into a 502 with Genesys' own words.
func genesysError(err error) error {
	var ge *genesys.Error
	if !errors.As(err, &ge) {
		return err
	}
	detail := map[string]any{"service": "genesys", "status": ge.HTTPStatus, "error": ge.Code,
		"description": ge.Description, "contextId": ge.ContextID}
	msg := "Genesys Cloud did not answer the token request"
	code := "genesys-unavailable"
	if ge.HTTPStatus != 0 {
		msg = fmt.Sprintf("Genesys Cloud refused the token request (HTTP %d): %s", ge.HTTPStatus, ge.Code)
		if ge.Description != "" {
			msg += ": " + ge.Description
		}
		code = "genesys-refused"
	}
	return upstreamError{err: &domain.Error{Kind: domain.KindUpstream, Code: code, Detail: msg, Err: err}, detail: detail}
}

type integrationRequest struct {
	IntegrationID string `json:"integrationId"`
	WebhookSecret string `json:"webhookSecret"` // optional; absent or empty: none
}

// putIntegration links the Open Messaging integration (and its webhook
// secret); the id is unique across live tenants.
func (s *Server) putIntegration(c *gin.Context) {
	var req integrationRequest
	id, opts, ok := s.secretWrite(c, &req, func() error {
		return domain.ValidateIntegration(req.IntegrationID, req.WebhookSecret)
	})
	if !ok {
		return
	}
	ref, ok := s.sealOptional(c, id, domain.FieldGenesysWebhookSecret, req.WebhookSecret)
	if !ok {
		return
	}
	res, err := s.deps.Writer.Execute(c.Request.Context(), id, opts, func(t *domain.Tenant) error {
		return t.LinkGenesysIntegration(req.IntegrationID, ref)
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etag(res.State.Version))
	c.JSON(http.StatusOK, credentialsView(res.State))
}

// liveKey answers 422 secrets-shredded unless PostgreSQL says the tenant's
// data key is live: nothing that hands out a secret trusts a cache (Redis, or
// this replica's data keys) about a tenant being alive.
func (s *Server) liveKey(c *gin.Context, id domain.TenantID) bool {
	if err := s.deps.Vault.Live(c.Request.Context(), id); err != nil {
		if domain.KindOf(err) == domain.KindRefused {
			err = errSecretsShredded
		}
		s.fail(c, err)
		return false
	}
	return true
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}
