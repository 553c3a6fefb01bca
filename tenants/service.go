package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/metagraph"
)

// Store runs commands on tenants' streams: load the tenant, let decide
// record events, append them with optimistic concurrency and the inline read
// model in one transaction (the event store's Repository). Crypto-shredding
// is part of the append: the transaction that records TenantDeleted destroys
// the tenant's data key. Implementations must be safe for concurrent use.
type Store interface {
	Execute(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (domain.Outcome, error)
	// Create is Execute for a fresh tenant id: nothing to load first.
	Create(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (domain.Outcome, error)
	// StateAt replays the tenant up to a version (0: all) and a time (zero:
	// now); a tenant that did not exist then comes back at version 0.
	StateAt(ctx context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (domain.State, error)
}

// History reads the event log in pages (the event store's Reader).
type History interface {
	ReadStreamPage(ctx context.Context, streamID string, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error)
	ReadFeed(ctx context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error)
}

// Chain verifies the event log's hash chains (the event store's Reader).
type Chain interface {
	// VerifyStream checks one stream; a stream without events comes back
	// at version 0.
	VerifyStream(ctx context.Context, streamID string) (domain.StreamVerification, error)
	// VerifyFeed checks the page of the global chain after a position,
	// anchored at that position's chain hash.
	VerifyFeed(ctx context.Context, after domain.Position, limit int) (domain.FeedVerification, error)
}

// Tenants reads the tenants read model, which the append writes in its
// transaction: it is always current.
type Tenants interface {
	Get(ctx context.Context, id domain.TenantID) (domain.State, error)
	// List pages through tenants with the statuses (none: all but deleted)
	// whose name or external reference contains search (any case).
	List(ctx context.Context, statuses []domain.Status, search, cursor string, limit int) ([]domain.State, string, error)
	// OwnerOfPhone returns the live tenant holding the number.
	OwnerOfPhone(ctx context.Context, phoneNumberID string) (domain.TenantID, error)
	// HoldersOfWABA returns every live tenant holding a number of the WABA.
	HoldersOfWABA(ctx context.Context, wabaID string) ([]domain.TenantID, error)
}

// Resolver answers the platform's lookups with the tenant context JSON,
// reflecting at least the events up to min (0: none): from memory or Redis
// when they have applied min, else from PostgreSQL. A deleted or unknown
// tenant is domain.ErrTenantNotFound.
type Resolver interface {
	ByPhoneNumber(ctx context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error)
	ByIntegration(ctx context.Context, integrationID string, min domain.Position) (json.RawMessage, error)
	ByTenant(ctx context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error)
	// WhatsAppToken returns the parts of the state the token route needs
	// (status, WABA, sealed token); the caller still checks the data key.
	WhatsAppToken(ctx context.Context, id domain.TenantID, min domain.Position) (domain.State, error)
}

// Vault seals and opens tenant secrets (envelope encryption bound to tenant
// and field). Live checks in PostgreSQL, never in a cache, that the tenant's
// data key was not destroyed.
type Vault interface {
	SealRef(ctx context.Context, id domain.TenantID, field, plaintext string) (domain.SecretRef, error)
	OpenRef(ctx context.Context, id domain.TenantID, field string, ref domain.SecretRef) (string, error)
	Live(ctx context.Context, id domain.TenantID) error
}

// Tokens hands out cached Genesys Cloud access tokens (the genesys
// Provider).
type Tokens interface {
	Token(ctx context.Context, creds genesys.Credentials) (genesys.Token, error)
	Invalidate(ctx context.Context, tenantID string) error
}

// Graph is the part of Meta's Graph API that Embedded Signup needs (the
// metagraph Client).
type Graph interface {
	ExchangeCode(ctx context.Context, code string) (metagraph.Token, error)
	DebugToken(ctx context.Context, token string) (metagraph.TokenInfo, error)
	SubscribeApp(ctx context.Context, wabaID, token string) error
	PhoneNumbers(ctx context.Context, wabaID, token string) ([]metagraph.PhoneNumber, error)
}

// Limiter applies a tenant's own rate limit (its settings) to the routes
// that hand out its secrets: nil, or a KindRateLimited error with RetryAfter.
type Limiter interface {
	CheckTenant(ctx context.Context, id domain.TenantID, own *domain.RateLimit) error
}

// Deps are the Service's collaborators. Store, History, Tenants, Resolver and
// Vault are required; Chain, Tokens, Graph, Limiter and Observer are optional
// (without Chain the verify use cases are unavailable, without Tokens the
// Genesys token use case is, without Graph Embedded Signup is, without
// Limiter tenants are not rate limited, without Observer commands are not
// counted).
type Deps struct {
	Store    Store
	History  History
	Chain    Chain
	Tenants  Tenants
	Resolver Resolver
	Vault    Vault
	Tokens   Tokens
	Graph    Graph
	Limiter  Limiter
	Observer Observer
}

// Config tunes the Service. The zero value is usable.
type Config struct {
	// MetaAppID and MetaAppSecret (META_APP_ID, META_APP_SECRET) identify the
	// Meta app: Embedded Signup checks tokens were issued to it, webhooks are
	// signed with its secret. Default empty: those use cases are unavailable.
	MetaAppID, MetaAppSecret string
	// MetaWebhookVerifyToken (META_WEBHOOK_VERIFY_TOKEN) answers Meta's
	// verification handshake. Default empty: the handshake is refused.
	MetaWebhookVerifyToken string
	// Now is the clock of token expiry times. Default time.Now.
	Now func() time.Time
	// Log receives what clients are not told (best-effort invalidations
	// that failed). Default: discarded.
	Log *slog.Logger
}

// Service is the application: one method per use case. It is safe for
// concurrent use.
type Service struct {
	store    Store
	history  History
	chain    Chain
	tenants  Tenants
	resolver Resolver
	vault    Vault
	tokens   Tokens
	graph    Graph
	limiter  Limiter
	observer Observer
	cfg      Config
}

// New returns the Service.
func New(d Deps, cfg Config) (*Service, error) {
	var errs []error
	for name, missing := range map[string]bool{"store": d.Store == nil, "history": d.History == nil,
		"tenants": d.Tenants == nil, "resolver": d.Resolver == nil, "vault": d.Vault == nil} {
		if missing {
			errs = append(errs, errors.New("tenants: the "+name+" is required"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: d.Store, history: d.History, chain: d.Chain, tenants: d.Tenants, resolver: d.Resolver, vault: d.Vault,
		tokens: d.Tokens, graph: d.Graph, limiter: d.Limiter, observer: d.Observer, cfg: cfg}, nil
}
