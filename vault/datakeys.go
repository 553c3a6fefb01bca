package vault

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenant-service/domain"
)

// querier is what both *pgxpool.Pool and pgx.Tx offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// keyRow is one data_keys row.
type keyRow struct {
	kekID     string
	wrapped   []byte
	destroyed bool
}

// dataKey returns the tenant's data key as an AES-GCM instance: from the
// cache, else read (and, when create is set, first created) in tx or on the
// pool. Only keys read on the pool are cached: a key read in tx may be the
// tx's own uncommitted insert, which a rollback would leave orphaned.
func (v *Vault) dataKey(ctx context.Context, tx pgx.Tx, tenant domain.TenantID, create bool) (cipher.AEAD, error) {
	if aead, ok := v.cache.get(tenant); ok {
		return aead, nil
	}
	gen := v.cache.generation()
	var q querier = v.pool
	if tx != nil {
		q = tx
	}
	row, found, err := readKey(ctx, q, tenant)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	switch {
	case !found && !create:
		return nil, fmt.Errorf("%w: tenant %s has no data key, so nothing was sealed for it", ErrTampered, tenant)
	case !found:
		aead, err = v.createKey(ctx, q, tenant)
	default:
		aead, err = v.openRow(tenant, row)
	}
	if err != nil {
		return nil, err
	}
	if tx == nil {
		v.cache.put(tenant, aead, gen)
	}
	return aead, nil
}

// readKey reads the tenant's row FOR SHARE: a Destroy that has not committed
// yet holds the row, so the read waits and then sees the destroyed key
// instead of caching the old one.
func readKey(ctx context.Context, q querier, tenant domain.TenantID) (keyRow, bool, error) {
	var r keyRow
	var kekID *string
	err := q.QueryRow(ctx, `SELECT kek_id, wrapped, destroyed_at IS NOT NULL FROM data_keys
		WHERE tenant_id = $1 FOR SHARE`, string(tenant)).Scan(&kekID, &r.wrapped, &r.destroyed)
	if errors.Is(err, pgx.ErrNoRows) {
		return keyRow{}, false, nil
	}
	if err != nil {
		return keyRow{}, false, fmt.Errorf("read data key: %w", err)
	}
	if kekID != nil {
		r.kekID = *kekID
	}
	return r, true, nil
}

// openRow unwraps a row's data key.
func (v *Vault) openRow(tenant domain.TenantID, row keyRow) (cipher.AEAD, error) {
	if row.destroyed {
		return nil, ErrShredded
	}
	dek, err := v.ring.unwrap(tenant, row.kekID, row.wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return newAEAD(dek)
}

// createKey makes a random data key, wraps it under the active key and
// inserts it unless a row exists. When another writer won the race (or the
// tenant was destroyed) it returns the stored key instead.
func (v *Vault) createKey(ctx context.Context, q querier, tenant domain.TenantID) (cipher.AEAD, error) {
	dek := make([]byte, KeySize)
	defer clear(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	kekID, wrapped, err := v.ring.wrap(tenant, dek)
	if err != nil {
		return nil, err
	}
	tag, err := q.Exec(ctx, `INSERT INTO data_keys (tenant_id, kek_id, wrapped, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING`,
		string(tenant), kekID, wrapped, v.cfg.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("insert data key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return newAEAD(dek)
	}
	row, found, err := readKey(ctx, q, tenant)
	if err != nil {
		return nil, err
	}
	if !found { // the conflicting row vanished: only a manual delete does that
		return nil, fmt.Errorf("data key of tenant %s disappeared while being created", tenant)
	}
	return v.openRow(tenant, row)
}

// destroyKey erases the tenant's wrapped key, or records a destroyed row
// when the tenant never had one.
func destroyKey(ctx context.Context, q querier, tenant domain.TenantID, now time.Time) error {
	_, err := q.Exec(ctx, destroyKeySQL, string(tenant), now)
	return err
}

// destroyKeySQL destroys a tenant's data key ($1) at $2, keeping the row.
const destroyKeySQL = `INSERT INTO data_keys (tenant_id, created_at, destroyed_at) VALUES ($1, $2, $2)
	ON CONFLICT (tenant_id) DO UPDATE
	SET wrapped = NULL, destroyed_at = COALESCE(data_keys.destroyed_at, EXCLUDED.destroyed_at)`
