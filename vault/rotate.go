package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// maxReportedFailures bounds the per-key errors Rotate joins into its error.
const maxReportedFailures = 5

// RotateResult is what a Rotate run did.
type RotateResult struct {
	ActiveKey string // the key-encryption key data keys were rewrapped to
	Total     int64  // live data keys not under ActiveKey when the run began (or found since)
	Rewrapped int64  // data keys now under ActiveKey
	Failed    int64  // data keys that did not unwrap (unknown key id or failed authentication); left as they were
}

// Rotate rewraps every live data key that is not under the active
// key-encryption key, RotateBatchSize keys per transaction in tenant-id
// order. Sealed values and events are untouched: data keys do not change,
// only their wrapping. Keys under old ids keep opening until rewrapped, so
// Rotate may run while the service serves traffic.
//
// Rotate is resumable: batches commit as they go, and a rerun (after a
// cancelled context, a crash, or keys created meanwhile by a process still
// configured with the old active key) continues with the keys left. progress,
// when not nil, is called with (0, total) first and after every batch.
//
// Keys that fail to unwrap are skipped and counted; Rotate then returns the
// result with an error naming the first few.
func (v *Vault) Rotate(ctx context.Context, progress func(done, total int64)) (RotateResult, error) {
	res := RotateResult{ActiveKey: v.ring.ActiveID()}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	err := v.pool.QueryRow(ctx, `SELECT count(*) FROM data_keys
		WHERE destroyed_at IS NULL AND kek_id <> $1`, res.ActiveKey).Scan(&res.Total)
	if err != nil {
		return res, fmt.Errorf("rotate data keys: count: %w", err)
	}
	progress(0, res.Total)
	var failures []error
	var after *string
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("rotate data keys: stopped after %d of %d: %w", res.Rewrapped+res.Failed, res.Total, err)
		}
		last, n, err := v.rotateBatch(ctx, after, &res, &failures)
		if err != nil {
			return res, fmt.Errorf("rotate data keys: stopped after %d of %d: %w", res.Rewrapped+res.Failed, res.Total, err)
		}
		if n == 0 {
			break
		}
		res.Total = max(res.Total, res.Rewrapped+res.Failed)
		progress(res.Rewrapped+res.Failed, res.Total)
		after = &last
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("rotate data keys: %d of %d keep their old wrapping: %w",
			res.Failed, res.Total, errors.Join(failures...))
	}
	return res, nil
}

// rotateBatch rewraps up to one batch of keys after the given tenant id in
// one transaction and returns the last tenant id it saw and how many rows.
// Rows are locked FOR UPDATE, so a concurrent Destroy or Rotate waits; a row
// that changed meanwhile is re-checked by PostgreSQL and dropped when it no
// longer qualifies.
func (v *Vault) rotateBatch(ctx context.Context, after *string, res *RotateResult, failures *[]error) (string, int, error) {
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, `SELECT tenant_id::text, kek_id, wrapped FROM data_keys
		WHERE destroyed_at IS NULL AND kek_id <> $1 AND ($2::uuid IS NULL OR tenant_id > $2::uuid)
		ORDER BY tenant_id LIMIT $3 FOR UPDATE`, res.ActiveKey, after, v.cfg.RotateBatchSize)
	if err != nil {
		return "", 0, fmt.Errorf("select data keys: %w", err)
	}
	type stale struct {
		tenant, kekID string
		wrapped       []byte
	}
	batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stale, error) {
		var s stale
		return s, r.Scan(&s.tenant, &s.kekID, &s.wrapped)
	})
	if err != nil || len(batch) == 0 {
		return "", 0, err
	}
	ids := make([]string, 0, len(batch))
	wraps := make([][]byte, 0, len(batch))
	var failed int64
	for _, s := range batch {
		w, err := v.rewrap(s.tenant, s.kekID, s.wrapped)
		if err != nil {
			failed++
			if len(*failures) < maxReportedFailures {
				*failures = append(*failures, err)
			}
			continue
		}
		ids, wraps = append(ids, s.tenant), append(wraps, w)
	}
	_, err = tx.Exec(ctx, `UPDATE data_keys AS d SET kek_id = $1, wrapped = u.wrapped, rotated_at = $2
		FROM unnest($3::uuid[], $4::bytea[]) AS u(tenant_id, wrapped) WHERE d.tenant_id = u.tenant_id`,
		res.ActiveKey, v.cfg.Now().UTC(), ids, wraps)
	if err != nil {
		return "", 0, fmt.Errorf("update data keys: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", 0, fmt.Errorf("commit: %w", err)
	}
	res.Rewrapped += int64(len(ids))
	res.Failed += failed
	return batch[len(batch)-1].tenant, len(batch), nil
}

// rewrap unwraps one data key and wraps it under the active key.
func (v *Vault) rewrap(tenant, kekID string, wrapped []byte) ([]byte, error) {
	id, err := domain.ParseTenantID(tenant)
	if err != nil {
		return nil, err
	}
	dek, err := v.ring.unwrap(id, kekID, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	_, w, err := v.ring.wrap(id, dek)
	return w, err
}
