package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tenant-service/domain"
)

// Writer runs a command on a tenant: load, decide, append. Must be safe for
// concurrent use.
type Writer interface {
	Execute(ctx context.Context, id domain.TenantID, opts WriteOptions, decide func(*domain.Tenant) error) (WriteResult, error)
}

// WriteOptions qualify a command.
type WriteOptions struct {
	IfMatch          *domain.Version // expected version; a stale one is 412
	Metadata         domain.Metadata
	IdempotencyScope string // actor and Idempotency-Key; empty: none
	RequestHash      []byte // what was asked under the key
	DestroyDataKey   bool   // crypto-shred the tenant's data key in the same transaction
}

// WriteResult is what a command did.
type WriteResult struct {
	State     domain.State
	Events    []domain.StoredEvent
	Duplicate bool // replayed from an earlier request with the same Idempotency-Key
}

// TenantReader reads the tenants read model.
type TenantReader interface {
	Get(ctx context.Context, id domain.TenantID) (domain.State, error)
	List(ctx context.Context, statuses []domain.Status, cursor string, limit int) ([]domain.State, string, error)
}

// History reads the event store.
type History interface {
	StateAt(ctx context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (domain.State, error)
	// ReadStreamPage reads a tenant's stream after a version, filtered.
	ReadStreamPage(ctx context.Context, streamID string, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error)
	// ReadFeed reads the global feed after a position, filtered.
	ReadFeed(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error)
}

// Check reports whether a dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Deps are the collaborators the handlers use.
type Deps struct {
	Writer  Writer
	Tenants TenantReader
	History History
	// Checks run by /readyz, by name (e.g. "postgres", "redis", "rabbitmq").
	Checks map[string]Check

	// Vault seals and opens secrets; the credential and WhatsApp routes need it.
	Vault Vault
	// GenesysTokens serves GET .../genesys/token. Optional: without it the route is not served.
	GenesysTokens GenesysTokens
	// Graph is the Meta Graph API for Embedded Signup. Optional (503 without it).
	Graph Graph
	// Resolver answers the resolve routes. Optional: without it they are not served.
	Resolver Resolver
	// WhatsAppTokens reads sealed WhatsApp tokens. Optional: without it the route is not served.
	WhatsAppTokens WhatsAppTokens
	// Webhooks records signed Meta webhook account updates. Optional.
	Webhooks WebhookTenants
	// Limiter rate-limits each API key and, on the secret and token routes,
	// each tenant by its settings. Optional: without it nothing is limited.
	Limiter Limiter
}

// Config tunes the Server.
type Config struct {
	// APIKeys are the accepted bearer keys. Required.
	APIKeys []APIKey
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// RequestTimeout bounds the work of one request; a dependency that does
	// not answer in time makes it a 503 instead of a hang. Default 20s.
	RequestTimeout time.Duration
	// Registry receives the HTTP metrics and is served on /metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Logger for request and error logs. Default slog.Default().
	Logger *slog.Logger
	// MetaAppID and MetaAppSecret (META_APP_ID, META_APP_SECRET) are needed by
	// Embedded Signup and webhook signatures. Default empty: those routes answer 503.
	MetaAppID, MetaAppSecret string
	// MetaWebhookVerifyToken (META_WEBHOOK_VERIFY_TOKEN) answers Meta's
	// verification handshake. Default empty: the handshake is refused.
	MetaWebhookVerifyToken string
}

// Validate reports every missing or bad setting.
func (c Config) Validate() error {
	var errs []error
	if len(c.APIKeys) == 0 {
		errs = append(errs, errors.New("handlers: at least one API key is required"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("handlers: MaxBodyBytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Server is the HTTP API.
type Server struct {
	deps    Deps
	cfg     Config
	log     *slog.Logger
	keys    *keyring
	metrics *metrics
	router  *gin.Engine
}

// NewServer builds the router.
func NewServer(deps Deps, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{deps: deps, cfg: cfg, log: cfg.Logger, keys: newKeyring(cfg.APIKeys), metrics: newMetrics(cfg.Registry)}
	s.routes()
	return s, nil
}

// Route names one route the server answers.
type Route struct {
	Method string
	Path   string // with :param placeholders, e.g. /api/tenants/:tenantId
}

// Routes lists every route the server answers (health, metrics and the
// webhook included), for tests and the API description checks.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.router.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Route registers an extra route behind authentication and the given roles;
// features wired in cmd (credentials, WhatsApp, resolve) use it.
func (s *Server) Route(method, path string, roles []Role, h gin.HandlerFunc) {
	s.router.Handle(method, path, s.authenticate, s.allow(roles...), h)
}

func (s *Server) routes() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	r.Use(s.requestContext, s.accessLog, s.recovery, s.limitBody, s.deadline)
	r.NoRoute(func(c *gin.Context) { s.problem(c, http.StatusNotFound, "not-found", "no such route", nil) })
	r.NoMethod(func(c *gin.Context) {
		s.problem(c, http.StatusMethodNotAllowed, "method-not-allowed", "the route does not allow "+c.Request.Method, nil)
	})
	s.router = r

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	metrics := promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})
	r.GET("/metrics", gin.WrapH(metrics))

	read := []Role{RoleAuditor}
	s.Route(http.MethodPost, "/api/tenants", nil, s.createTenant)
	s.Route(http.MethodGet, "/api/tenants", read, s.listTenants)
	s.Route(http.MethodGet, "/api/tenants/:tenantId", read, s.getTenant)
	s.Route(http.MethodPatch, "/api/tenants/:tenantId", nil, s.updateTenant)
	s.Route(http.MethodDelete, "/api/tenants/:tenantId", nil, s.deleteTenant)
	s.Route(http.MethodPost, "/api/tenants/:tenantId/suspend", nil, s.suspendTenant)
	s.Route(http.MethodPost, "/api/tenants/:tenantId/reactivate", nil, s.reactivateTenant)
	s.Route(http.MethodGet, "/api/tenants/:tenantId/events", read, s.tenantEvents)
	// The service role reads the feed too: a consuming service resyncs its
	// cache from it after a broker outage (secrets are left out as everywhere).
	s.Route(http.MethodGet, "/api/events", []Role{RoleAuditor, RoleService}, s.allEvents)

	if s.deps.Vault != nil {
		s.Route(http.MethodPut, "/api/tenants/:tenantId/genesys/credentials", nil, s.putCredentials)
		s.Route(http.MethodGet, "/api/tenants/:tenantId/genesys/credentials", read, s.getCredentials)
		s.Route(http.MethodGet, "/api/tenants/:tenantId/genesys/credentials/secret", []Role{RoleService}, s.getCredentialsSecret)
		s.Route(http.MethodPut, "/api/tenants/:tenantId/genesys/integration", nil, s.putIntegration)
		s.Route(http.MethodPost, "/api/tenants/:tenantId/whatsapp", nil, s.linkWhatsApp)
		s.Route(http.MethodDelete, "/api/tenants/:tenantId/whatsapp/:phoneNumberId", nil, s.unlinkWhatsApp)
		s.Route(http.MethodPost, "/api/whatsapp/signup", nil, s.signup)
		if s.deps.GenesysTokens != nil {
			s.Route(http.MethodGet, "/api/tenants/:tenantId/genesys/token", []Role{RoleService}, s.getGenesysToken)
		}
		if s.deps.WhatsAppTokens != nil {
			s.Route(http.MethodGet, "/api/tenants/:tenantId/whatsapp/token", []Role{RoleService}, s.getWhatsAppToken)
		}
	}
	if s.deps.Resolver != nil {
		s.Route(http.MethodGet, "/api/resolve/whatsapp/:phoneNumberId", []Role{RoleService}, s.resolvePhone)
		s.Route(http.MethodGet, "/api/resolve/genesys/:integrationId", []Role{RoleService}, s.resolveIntegration)
		s.Route(http.MethodGet, "/api/resolve/tenant/:tenantId", []Role{RoleService}, s.resolveTenant)
	}
	if s.deps.Webhooks != nil {
		r.GET("/api/whatsapp/webhook", s.verifyWebhook)
		r.POST("/api/whatsapp/webhook", s.receiveWebhook)
	}
}
