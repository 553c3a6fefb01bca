package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// KeyReport says which key-encryption keys the stored data keys need.
type KeyReport struct {
	// Missing counts, per key id ENCRYPTION_KEYS does not hold, the live
	// data keys wrapped by it: their secrets cannot be opened.
	Missing map[string]int64
	// Retired lists the configured keys an operator retired: they wrap no
	// data key any more and should leave ENCRYPTION_KEYS.
	Retired []string
	// ActiveRetired is set when the active key is retired: new data keys
	// would be wrapped by a key that is meant to be destroyed.
	ActiveRetired bool
}

// Problems returns one line per problem, naming the key ids.
func (r KeyReport) Problems() []string {
	var out []string
	ids := make([]string, 0, len(r.Missing))
	for id := range r.Missing {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, fmt.Sprintf("ENCRYPTION_KEYS lacks key %q, which wraps %d data key(s): their secrets cannot be read until it is added back", id, r.Missing[id]))
	}
	return out
}

// CheckKeys compares the key-encryption keys the live data keys are wrapped
// by with the keyring, and the keyring with the retired keys.
func (v *Vault) CheckKeys(ctx context.Context) (KeyReport, error) {
	rep := KeyReport{Missing: map[string]int64{}}
	rows, err := v.pool.Query(ctx, `SELECT kek_id, count(*) FROM data_keys WHERE wrapped IS NOT NULL GROUP BY kek_id`)
	if err != nil {
		return rep, fmt.Errorf("check key-encryption keys: %w", err)
	}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return rep, fmt.Errorf("check key-encryption keys: %w", err)
		}
		if !v.ring.Has(id) {
			rep.Missing[id] = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("check key-encryption keys: %w", err)
	}
	retired, err := v.retiredKeys(ctx)
	if err != nil {
		return rep, err
	}
	for _, id := range v.ring.IDs() {
		if slices.Contains(retired, id) {
			rep.Retired = append(rep.Retired, id)
			rep.ActiveRetired = rep.ActiveRetired || id == v.ring.ActiveID()
		}
	}
	return rep, nil
}

func (v *Vault) retiredKeys(ctx context.Context) ([]string, error) {
	rows, err := v.pool.Query(ctx, `SELECT kek_id FROM retired_keks ORDER BY kek_id`)
	if err != nil {
		return nil, fmt.Errorf("read retired keys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read retired keys: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ErrKeyInUse is returned by Retire while data keys are still wrapped by
// the key.
var ErrKeyInUse = errors.New("the key still wraps data keys")

// Retire records that the key-encryption key id wraps no live data key, so
// it can be destroyed. It refuses (ErrKeyInUse, with the count) while any
// data key is still wrapped by it: run `keys rotate` first. Retiring twice is
// harmless.
func (v *Vault) Retire(ctx context.Context, id string) error {
	if err := validateKeyID(id); err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	var n int64
	// FOR UPDATE of the matching rows is not enough against a concurrent
	// insert; the count is read and the row written in one statement.
	err := v.pool.QueryRow(ctx, `WITH used AS (SELECT count(*) AS n FROM data_keys WHERE kek_id = $1 AND wrapped IS NOT NULL),
		ins AS (INSERT INTO retired_keks (kek_id) SELECT $1 FROM used WHERE n = 0 ON CONFLICT DO NOTHING)
		SELECT n FROM used`, id).Scan(&n)
	if err != nil {
		return fmt.Errorf("retire key %q: %w", id, err)
	}
	if n > 0 {
		return fmt.Errorf("retire key %q: %w: %d data key(s); run keys rotate with another active key first", id, ErrKeyInUse, n)
	}
	return nil
}
