package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
	"tenant-service/internal/logctx"
	"tenant-service/tenants"
)

// App is the application the handlers serve: the use cases of
// tenants.Service. Every error it returns is a *domain.Error of the kind the
// client sees, or an unexpected (internal) one. Must be safe for concurrent
// use.
type App interface {
	Create(ctx context.Context, in domain.CreateTenant, w domain.Write) (domain.Outcome, error)
	Update(ctx context.Context, id domain.TenantID, in domain.UpdateTenant, w domain.Write) (domain.Outcome, error)
	Suspend(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (domain.Outcome, error)
	Reactivate(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (domain.Outcome, error)
	Delete(ctx context.Context, id domain.TenantID, reason string, w domain.Write) (domain.Outcome, error)

	Tenant(ctx context.Context, id domain.TenantID) (domain.State, error)
	TenantAt(ctx context.Context, id domain.TenantID, version domain.Version, asOf time.Time) (domain.State, error)
	Tenants(ctx context.Context, statuses []domain.Status, search, cursor string, limit int) ([]domain.State, string, error)
	Events(ctx context.Context, id domain.TenantID, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error)
	Feed(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error)
	VerifyTenant(ctx context.Context, id domain.TenantID) (domain.StreamVerification, error)
	VerifyFeed(ctx context.Context, after domain.Position, limit int) (domain.FeedVerification, error)

	SetGenesysCredentials(ctx context.Context, id domain.TenantID, clientID, clientSecret, region string, w domain.Write) (domain.Outcome, error)
	Credentials(ctx context.Context, id domain.TenantID) (domain.State, error)
	LinkGenesysIntegration(ctx context.Context, id domain.TenantID, integrationID, webhookSecret string, w domain.Write) (domain.Outcome, error)
	GenesysSecrets(ctx context.Context, id domain.TenantID) (tenants.GenesysSecrets, error)
	GenesysToken(ctx context.Context, id domain.TenantID) (tenants.AccessToken, error)

	LinkWhatsApp(ctx context.Context, id domain.TenantID, link domain.WABALinked, accessToken *string, w domain.Write) (domain.Outcome, error)
	UnlinkWhatsApp(ctx context.Context, id domain.TenantID, phoneNumberID string, w domain.Write) (domain.Outcome, error)
	WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (tenants.WhatsAppToken, error)
	CompleteSignup(ctx context.Context, in tenants.Signup, w domain.Write) (domain.Outcome, error)
	VerifyWebhook(query url.Values) (string, error)
	RecordWebhook(ctx context.Context, raw []byte, signature string, meta domain.Metadata) (tenants.WebhookResult, error)

	ResolvePhone(ctx context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error)
	ResolveIntegration(ctx context.Context, integrationID string, min domain.Position) (json.RawMessage, error)
	ResolveTenant(ctx context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error)
}

// KeyLimiter rate-limits API keys by their identity and role: nil, or a
// KindRateLimited error with RetryAfter. Must be safe for concurrent use.
type KeyLimiter interface {
	CheckKey(ctx context.Context, identity, role string) error
}

// Check reports whether a dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Config tunes the Server.
type Config struct {
	// APIKeys are the accepted bearer keys. Required.
	APIKeys []APIKey
	// Checks run by /readyz, by name (e.g. "postgres", "redis", "rabbitmq").
	// Default none.
	Checks map[string]Check
	// KeyLimiter limits each API key. Default: nothing is limited.
	KeyLimiter KeyLimiter
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// RequestTimeout bounds the work of one request; a dependency that does
	// not answer in time makes it a 503 instead of a hang. Default 20s.
	RequestTimeout time.Duration
	// Registry receives the HTTP metrics and is served on /metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Logger for request and error logs. Default slog.Default(). Every line
	// logged for a request carries its request id and tenant id (a logger
	// not made with logctx.NewHandler is wrapped in one).
	Logger *slog.Logger
	// AsyncAPI is the AsyncAPI document of the events the service
	// publishes, served at /asyncapi.json. Default none: that route
	// answers 404.
	AsyncAPI []byte
	// TracerProvider, when set, makes every request a server span that
	// continues the caller's W3C traceparent, and the traceparent recorded
	// in events that of this span. Default nil: no span, and events record
	// the caller's traceparent as it came.
	TracerProvider trace.TracerProvider
	// Commits wakes the live event stream after commits. Default nil: the
	// stream polls the feed every second.
	Commits Commits
	// Console, when set, is served at /admin/ (the admin console's static
	// files). Default nil: /admin answers 404.
	Console http.Handler
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
	app     App
	cfg     Config
	log     *slog.Logger
	keys    *keyring
	metrics *metrics
	router  *gin.Engine
	roles   map[Route][]Role // of each route behind a key, admin first
	tracer  trace.Tracer     // nil: tracing is off

	closeStreams  sync.Once
	streamsClosed chan struct{} // closed by CloseStreams
}

// NewServer builds the router over the application.
func NewServer(app App, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if app == nil {
		return nil, errors.New("handlers: the application is required")
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
	if _, ok := cfg.Logger.Handler().(*logctx.Handler); !ok {
		cfg.Logger = slog.New(logctx.NewHandler(cfg.Logger.Handler()))
	}
	s := &Server{app: app, cfg: cfg, log: cfg.Logger, keys: newKeyring(cfg.APIKeys), metrics: newMetrics(cfg.Registry),
		streamsClosed: make(chan struct{})}
	if cfg.TracerProvider != nil {
		s.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	s.routes()
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

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
