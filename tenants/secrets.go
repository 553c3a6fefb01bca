package tenants

import (
	"context"
	"strconv"
	"time"

	"tenant-service/domain"
	"tenant-service/genesys"
)

// writableForSecrets refuses, before anything is sealed, a tenant that
// cannot take secrets: sealing would otherwise create a data key for nothing.
func (s *Service) writableForSecrets(ctx context.Context, id domain.TenantID) error {
	st, err := s.tenants.Get(ctx, id)
	switch {
	case err != nil:
		return err
	case st.Status == domain.StatusDeleted:
		return domain.ErrTenantDeleted
	}
	return nil
}

// seal seals plaintext for the tenant's field, or returns nil for "".
func (s *Service) seal(ctx context.Context, id domain.TenantID, field, plaintext string) (*domain.SecretRef, error) {
	if plaintext == "" {
		return nil, nil
	}
	ref, err := s.vault.SealRef(ctx, id, field, plaintext)
	if err != nil {
		return nil, err
	}
	return &ref, nil
}

// SetGenesysCredentials validates and seals the Genesys OAuth client and
// records GenesysCredentialsSet the first time, CredentialsRotated after;
// the token cached for the old credentials is dropped.
func (s *Service) SetGenesysCredentials(ctx context.Context, id domain.TenantID, clientID, clientSecret, region string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("set_genesys_credentials", &id, time.Now(), &out, &err)
	if err := domain.ValidateGenesysCredentials(clientID, clientSecret, region); err != nil {
		return domain.Outcome{}, err
	}
	if err := s.writableForSecrets(ctx, id); err != nil {
		return domain.Outcome{}, err
	}
	secret, err := s.seal(ctx, id, domain.FieldGenesysClientSecret, clientSecret)
	if err != nil {
		return domain.Outcome{}, err
	}
	out, err = s.execute(ctx, id, w, func(t *domain.Tenant) error {
		return t.SetGenesysCredentials(clientID, region, *secret)
	})
	if err == nil {
		s.dropToken(ctx, id)
	}
	return out, err
}

// LinkGenesysIntegration records GenesysIntegrationLinked with the
// integration id (unique across live tenants) and its sealed webhook secret.
func (s *Service) LinkGenesysIntegration(ctx context.Context, id domain.TenantID, integrationID, webhookSecret string, w domain.Write) (out domain.Outcome, err error) {
	defer s.observe("link_genesys_integration", &id, time.Now(), &out, &err)
	if err := domain.ValidateIntegration(integrationID, webhookSecret); err != nil {
		return domain.Outcome{}, err
	}
	if err := s.writableForSecrets(ctx, id); err != nil {
		return domain.Outcome{}, err
	}
	ref, err := s.seal(ctx, id, domain.FieldGenesysWebhookSecret, webhookSecret)
	if err != nil {
		return domain.Outcome{}, err
	}
	return s.execute(ctx, id, w, func(t *domain.Tenant) error { return t.LinkGenesysIntegration(integrationID, ref) })
}

// Errors of the secret use cases.
var (
	// ErrNoCredentials: the tenant has no Genesys client.
	ErrNoCredentials = &domain.Error{Kind: domain.KindNotFound, Code: "genesys-credentials-not-set",
		Detail: "the tenant has no Genesys credentials"}
	// ErrSecretsShredded: the tenant is deleted and its data key destroyed.
	ErrSecretsShredded = &domain.Error{Kind: domain.KindRefused, Code: "secrets-shredded",
		Detail: "the tenant is deleted and its data key was destroyed: its secrets can no longer be decrypted"}
	// ErrNoWhatsAppToken: the tenant has no WhatsApp access token.
	ErrNoWhatsAppToken = &domain.Error{Kind: domain.KindNotFound, Code: "whatsapp-token-not-set",
		Detail: "the tenant has no WhatsApp access token"}
)

// handOut is the gate of every use case that hands out a secret: the tenant
// is live, within its own rate limit, and PostgreSQL (never a cache) says
// its data key was not destroyed.
func (s *Service) handOut(ctx context.Context, st domain.State) error {
	if st.Status == domain.StatusDeleted {
		return ErrSecretsShredded
	}
	if s.limiter != nil {
		if err := s.limiter.CheckTenant(ctx, st.TenantID, st.Settings.RateLimit); err != nil {
			return err
		}
	}
	if err := s.vault.Live(ctx, st.TenantID); err != nil {
		if domain.KindOf(err) == domain.KindRefused {
			return ErrSecretsShredded
		}
		return err
	}
	return nil
}

// GenesysSecrets are the decrypted Genesys credentials and integration
// webhook secret, for the auth service and the Genesys webhook service.
type GenesysSecrets struct {
	TenantID      domain.TenantID `json:"tenantId"`
	ClientID      string          `json:"clientId"`
	ClientSecret  string          `json:"clientSecret"`
	Region        string          `json:"region"`
	IntegrationID string          `json:"integrationId,omitempty"`
	WebhookSecret string          `json:"webhookSecret,omitempty"`
	Status        domain.Status   `json:"status"`
	Version       domain.Version  `json:"version"`
}

// genesysClient loads a tenant that may hand out Genesys secrets and opens
// its client secret. The tenants table is always current, so any
// minPosition holds.
func (s *Service) genesysClient(ctx context.Context, id domain.TenantID) (domain.State, string, error) {
	st, err := s.tenants.Get(ctx, id)
	if err != nil {
		return st, "", err
	}
	if st.Status != domain.StatusDeleted && (st.Genesys == nil || st.Genesys.ClientSecret == nil) {
		return st, "", ErrNoCredentials
	}
	if err := s.handOut(ctx, st); err != nil {
		return st, "", err
	}
	secret, err := s.vault.OpenRef(ctx, id, domain.FieldGenesysClientSecret, *st.Genesys.ClientSecret)
	return st, secret, err
}

// GenesysSecrets returns the tenant's decrypted Genesys credentials.
func (s *Service) GenesysSecrets(ctx context.Context, id domain.TenantID) (GenesysSecrets, error) {
	st, secret, err := s.genesysClient(ctx, id)
	if err != nil {
		return GenesysSecrets{}, err
	}
	g := st.Genesys
	out := GenesysSecrets{TenantID: st.TenantID, ClientID: g.ClientID, ClientSecret: secret, Region: g.Region,
		IntegrationID: g.IntegrationID, Status: st.Status, Version: st.Version}
	if g.WebhookSecret != nil {
		if out.WebhookSecret, err = s.vault.OpenRef(ctx, id, domain.FieldGenesysWebhookSecret, *g.WebhookSecret); err != nil {
			return GenesysSecrets{}, err
		}
	}
	return out, nil
}

// AccessToken is a Genesys Cloud access token.
type AccessToken struct {
	AccessToken string    `json:"accessToken"`
	TokenType   string    `json:"tokenType"`
	ExpiresIn   int       `json:"expiresIn"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Region      string    `json:"region"`
}

// errTokensUnavailable: the service runs without a Genesys token provider.
var errTokensUnavailable = &domain.Error{Kind: domain.KindUnavailable, Code: "genesys-tokens-unavailable",
	Detail: "this service is not set up to fetch Genesys tokens"}

// GenesysToken returns a valid Genesys Cloud access token for the tenant:
// cached until shortly before it expires, one refresh at a time per tenant.
// A refusal or failure of Genesys is a 502 with Genesys' own words.
func (s *Service) GenesysToken(ctx context.Context, id domain.TenantID) (AccessToken, error) {
	if s.tokens == nil {
		return AccessToken{}, errTokensUnavailable
	}
	st, secret, err := s.genesysClient(ctx, id)
	if err != nil {
		return AccessToken{}, err
	}
	g := st.Genesys
	version := ""
	if g.CredentialsUpdatedAt != nil {
		version = strconv.FormatInt(g.CredentialsUpdatedAt.UnixNano(), 10)
	}
	tok, err := s.tokens.Token(ctx, genesys.Credentials{TenantID: string(st.TenantID), Region: g.Region,
		ClientID: g.ClientID, ClientSecret: secret, Version: version})
	if err != nil {
		return AccessToken{}, genesysError(err)
	}
	return AccessToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn,
		ExpiresAt: s.cfg.Now().UTC().Add(time.Duration(tok.ExpiresIn) * time.Second).Truncate(time.Second), Region: g.Region}, nil
}

// Credentials returns the tenant whose Genesys credentials (masked by the
// caller) are asked for, or ErrNoCredentials.
func (s *Service) Credentials(ctx context.Context, id domain.TenantID) (domain.State, error) {
	st, err := s.tenants.Get(ctx, id)
	if err != nil {
		return domain.State{}, err
	}
	if st.Genesys == nil || st.Genesys.ClientID == "" {
		return domain.State{}, ErrNoCredentials
	}
	return st, nil
}
