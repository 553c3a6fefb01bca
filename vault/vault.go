package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// Errors Open and Seal return; match them with errors.Is. All of them fail
// closed: no plaintext is returned with an error.
var (
	// ErrShredded reports that the tenant's data key was destroyed: its
	// secrets can no longer be read, and no new ones are sealed. It is a
	// domain error (422, code "secrets-shredded") so the API says so plainly.
	ErrShredded = &domain.Error{Kind: domain.KindRefused, Code: "secrets-shredded",
		Detail: "the tenant's data key was destroyed (crypto-shredding); its secrets can no longer be read or stored"}
	// ErrTampered reports that a sealed value or a wrapped data key failed
	// authentication: it was changed, or it belongs to another tenant or field.
	ErrTampered = errors.New("vault: authentication failed")
	// ErrMalformed reports a value that is not in the sealed format of doc.go.
	ErrMalformed = errors.New("vault: not a sealed value")
	// ErrUnknownKey reports a data key wrapped by a key-encryption key that
	// ENCRYPTION_KEYS no longer holds. It comes wrapped in a domain error of
	// kind unavailable (503, code "encryption-key-missing") naming the key.
	ErrUnknownKey = errors.New("vault: unknown key-encryption key")
)

// Config tunes a Vault. The zero value is usable.
type Config struct {
	// CacheTTL is how long an unwrapped data key stays in memory after it is
	// read. Negative turns caching off. Default: 5 minutes.
	CacheTTL time.Duration
	// CacheSize bounds the number of data keys held in memory. Default: 10000.
	CacheSize int
	// RotateBatchSize is how many data keys Rotate rewraps per transaction.
	// Default: 500.
	RotateBatchSize int
	// Now returns the current time, for data_keys timestamps and cache
	// expiry. Default: time.Now.
	Now func() time.Time
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("vault: CacheSize must not be negative, got %d", c.CacheSize))
	}
	if c.RotateBatchSize < 0 || c.RotateBatchSize > 10000 {
		errs = append(errs, fmt.Errorf("vault: RotateBatchSize must be 0 (default) to 10000, got %d", c.RotateBatchSize))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.CacheTTL == 0 {
		c.CacheTTL = 5 * time.Minute
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.RotateBatchSize == 0 {
		c.RotateBatchSize = 500
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Vault seals and opens tenant secrets with per-tenant data keys kept,
// wrapped, in the data_keys table. It is safe for concurrent use.
type Vault struct {
	pool  *pgxpool.Pool
	ring  *Keyring
	cfg   Config
	cache *keyCache
}

// New returns a Vault over the pool (with the data_keys migration applied)
// and the keyring.
func New(pool *pgxpool.Pool, ring *Keyring, cfg Config) (*Vault, error) {
	var errs []error
	if pool == nil {
		errs = append(errs, errors.New("vault: pool is nil"))
	}
	if ring == nil {
		errs = append(errs, errors.New("vault: keyring is nil"))
	}
	if err := errors.Join(append(errs, cfg.Validate())...); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Vault{pool: pool, ring: ring, cfg: cfg,
		cache: newKeyCache(cfg.CacheTTL, cfg.CacheSize, cfg.Now)}, nil
}

// Keyring returns the vault's key-encryption keys.
func (v *Vault) Keyring() *Keyring { return v.ring }

// Seal encrypts plaintext for the tenant's field and returns the sealed
// value (see doc.go). It creates the tenant's data key on first use. A
// tenant whose key was destroyed gets ErrShredded.
func (v *Vault) Seal(ctx context.Context, tenantID domain.TenantID, field, plaintext string) (string, error) {
	return v.SealTx(ctx, nil, tenantID, field, plaintext)
}

// SealTx is Seal with the data key created and read in tx (on the pool when
// tx is nil).
func (v *Vault) SealTx(ctx context.Context, tx pgx.Tx, tenantID domain.TenantID, field, plaintext string) (string, error) {
	tenant, err := checkInput(tenantID, field)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", field, err)
	}
	aead, err := v.dataKey(ctx, tx, tenant, true)
	if err != nil {
		return "", fmt.Errorf("seal %s for tenant %s: %w", field, tenant, err)
	}
	sealed, err := seal(aead, []byte(plaintext), sealAAD(tenant, field))
	if err != nil {
		return "", fmt.Errorf("seal %s for tenant %s: %w", field, tenant, err)
	}
	return encode(sealed), nil
}

// SealRef seals plaintext like Seal and returns it with its display hint
// (domain.SecretHint), ready for an event.
func (v *Vault) SealRef(ctx context.Context, tenantID domain.TenantID, field, plaintext string) (domain.SecretRef, error) {
	ct, err := v.Seal(ctx, tenantID, field, plaintext)
	if err != nil {
		return domain.SecretRef{}, err
	}
	return domain.SecretRef{Ciphertext: ct, Hint: domain.SecretHint(plaintext)}, nil
}

// Open decrypts a value sealed for the tenant's field. It returns
// ErrShredded when the tenant's key was destroyed, ErrMalformed or
// ErrTampered when the value is not an authentic sealed value for this
// tenant and field, and ErrUnknownKey when the tenant's data key is wrapped
// by a key ENCRYPTION_KEYS no longer holds. It never creates a data key.
func (v *Vault) Open(ctx context.Context, tenantID domain.TenantID, field, ciphertext string) (string, error) {
	tenant, err := checkInput(tenantID, field)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", field, err)
	}
	sealed, err := decode(ciphertext)
	if err != nil {
		return "", fmt.Errorf("open %s for tenant %s: %w", field, tenant, err)
	}
	aead, err := v.dataKey(ctx, nil, tenant, false)
	if err != nil {
		return "", fmt.Errorf("open %s for tenant %s: %w", field, tenant, err)
	}
	pt, err := unseal(aead, sealed, sealAAD(tenant, field))
	if err != nil {
		return "", fmt.Errorf("open %s for tenant %s: %w", field, tenant, err)
	}
	return string(pt), nil
}

// OpenRef opens ref.Ciphertext like Open.
func (v *Vault) OpenRef(ctx context.Context, tenantID domain.TenantID, field string, ref domain.SecretRef) (string, error) {
	return v.Open(ctx, tenantID, field, ref.Ciphertext)
}

// Live checks in PostgreSQL, never in a cache, that the tenant's data key
// has not been destroyed: one primary-key read. It returns ErrShredded for a
// destroyed key (and drops it from this process's cache), nil for a live key
// or a tenant that never had one. Call it before handing out a secret: a
// cache in this process, or an entry in Redis, may outlive a delete done by
// another replica.
func (v *Vault) Live(ctx context.Context, tenantID domain.TenantID) error {
	tenant, err := domain.ParseTenantID(string(tenantID))
	if err != nil {
		return fmt.Errorf("check data key: %w", err)
	}
	var destroyed bool
	err = v.pool.QueryRow(ctx, `SELECT destroyed_at IS NOT NULL FROM data_keys WHERE tenant_id = $1`, string(tenant)).Scan(&destroyed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check data key of tenant %s: %w", tenant, err)
	case destroyed:
		v.cache.forget(tenant)
		return ErrShredded
	}
	return nil
}

// Forget drops the tenant's data key from this process's cache, for a
// replica that learns of a deletion made by another one.
func (v *Vault) Forget(tenantID domain.TenantID) {
	v.cache.forget(tenantID)
}

// Destroy crypto-shreds the tenant: it erases the tenant's wrapped data key
// (keeping a row with the key id and destroyed_at, for audit) in tx, or on
// the pool when tx is nil, and drops the key from this process's cache.
// Afterwards Open returns ErrShredded and Seal refuses. Destroying a tenant
// without a key leaves a row that stops one being created; destroying twice
// is harmless. Other processes may keep a cached copy for up to CacheTTL.
func (v *Vault) Destroy(ctx context.Context, tx pgx.Tx, tenantID domain.TenantID) error {
	tenant, err := domain.ParseTenantID(string(tenantID))
	if err != nil {
		return fmt.Errorf("destroy data key: %w", err)
	}
	var q querier = v.pool
	if tx != nil {
		q = tx
	}
	err = destroyKey(ctx, q, tenant, v.cfg.Now().UTC())
	// Forget after the row is locked, so loads that read the old row before
	// cannot cache it (see keyCache).
	v.cache.forget(tenant)
	if err != nil {
		return fmt.Errorf("destroy data key of tenant %s: %w", tenant, err)
	}
	return nil
}

// Shredder is the inline projection that crypto-shreds: written in the
// append's transaction, it destroys the data key of every tenant a batch
// deletes, so TenantDeleted and the destroyed key commit together or not at
// all. Register it with the event store.
type Shredder struct{ Vault *Vault }

// Inline destroys the data key of the tenant when events delete it, and
// drops the key from this process's cache once that committed (loads that
// read the row before cannot cache it then; see keyCache).
func (s Shredder) Inline(_ domain.State, events []domain.StoredEvent) ([]postgres.Statement, error) {
	for _, e := range events {
		if e.Type != domain.EventTenantDeleted {
			continue
		}
		tenant, err := domain.ParseTenantID(string(e.TenantID))
		if err != nil {
			return nil, fmt.Errorf("destroy data key: %w", err)
		}
		return []postgres.Statement{{SQL: destroyKeySQL, Args: []any{string(tenant), s.Vault.cfg.Now().UTC()},
			Committed: func() { s.Vault.cache.forget(tenant) }}}, nil
	}
	return nil, nil
}

// ByStringID adapts the vault to callers that name a tenant by a string id
// (the Genesys token cache seals the tokens it keeps in Redis).
type ByStringID struct{ Vault *Vault }

// Seal seals plaintext for the tenant's field.
func (s ByStringID) Seal(ctx context.Context, tenantID, field, plaintext string) (string, error) {
	return s.Vault.Seal(ctx, domain.TenantID(tenantID), field, plaintext)
}

// Open opens a value sealed for the tenant's field.
func (s ByStringID) Open(ctx context.Context, tenantID, field, ciphertext string) (string, error) {
	return s.Vault.Open(ctx, domain.TenantID(tenantID), field, ciphertext)
}
