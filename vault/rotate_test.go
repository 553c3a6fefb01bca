package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

// sealedSecret is one tenant's secret as an event would hold it.
type sealedSecret struct {
	tenant     domain.TenantID
	plaintext  string
	ciphertext string
}

// seedTenants creates n data keys wrapped by k's active key with one sealed
// secret each, in bulk (COPY), as years of Seal calls would have.
func seedTenants(t testing.TB, pool *pgxpool.Pool, k *Keyring, n int) []sealedSecret {
	t.Helper()
	secrets := make([]sealedSecret, n)
	rows := make([][]any, n)
	now := time.Now().UTC()
	for i := range secrets {
		tenant := domain.NewTenantID()
		dek := make([]byte, KeySize)
		if _, err := rand.Read(dek); err != nil {
			t.Fatal(err)
		}
		kekID, wrapped, err := k.wrap(tenant, dek)
		if err != nil {
			t.Fatal(err)
		}
		aead, err := newAEAD(dek)
		if err != nil {
			t.Fatal(err)
		}
		pt := fmt.Sprintf("secret-%d-%s", i, tenant)
		sealed, err := seal(aead, []byte(pt), sealAAD(tenant, FieldGenesysClientSecret))
		if err != nil {
			t.Fatal(err)
		}
		secrets[i] = sealedSecret{tenant: tenant, plaintext: pt, ciphertext: encode(sealed)}
		rows[i] = []any{string(tenant), kekID, wrapped, now}
	}
	_, err := pool.CopyFrom(context.Background(), pgx.Identifier{"data_keys"},
		[]string{"tenant_id", "kek_id", "wrapped", "created_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("seed data keys: %v", err)
	}
	return secrets
}

func countByKEK(t testing.TB, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `SELECT kek_id, count(*) FROM data_keys
		WHERE destroyed_at IS NULL GROUP BY kek_id`)
	m := map[string]int64{}
	var id string
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { m[id] = n; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openAll opens every secret with v, four at a time.
func openAll(t *testing.T, v *Vault, secrets []sealedSecret) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(secrets); i += 4 {
				s := secrets[i]
				got, err := v.Open(context.Background(), s.tenant, FieldGenesysClientSecret, s.ciphertext)
				if err != nil || got != s.plaintext {
					mu.Lock()
					if failures++; failures <= 3 {
						t.Errorf("tenant %s: Open = %q, %v", s.tenant, got, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failures > 0 {
		t.Fatalf("%d of %d secrets do not open", failures, len(secrets))
	}
}

// secretsUnder returns up to limit of the secrets whose data key is wrapped
// by kek.
func secretsUnder(t *testing.T, pool *pgxpool.Pool, kek string, secrets []sealedSecret, limit int) []sealedSecret {
	t.Helper()
	byTenant := map[domain.TenantID]sealedSecret{}
	for _, s := range secrets {
		byTenant[s.tenant] = s
	}
	rows, _ := pool.Query(context.Background(), `SELECT tenant_id::text FROM data_keys
		WHERE kek_id = $1 AND destroyed_at IS NULL LIMIT $2`, kek, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		t.Fatalf("no data keys under %s: %v", kek, err)
	}
	out := make([]sealedSecret, len(ids))
	for i, id := range ids {
		out[i] = byTenant[domain.TenantID(id)]
	}
	return out
}

func TestRotateTenThousandTenantsInterruptedAndResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	keys := testKeys(t, "old", "new")
	const tenants, batch, stopAfter = 10000, 500, 3
	secrets := seedTenants(t, pool, ring(t, keys, "old"), tenants)
	destroyed := secrets[0].tenant // destroyed keys are not rewrapped
	v := newVault(t, pool, ring(t, keys, "new", "old"), Config{RotateBatchSize: batch})
	if err := v.Destroy(ctx, nil, destroyed); err != nil {
		t.Fatal(err)
	}
	live := secrets[1:]

	// First run: cancelled after three batches.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := 0
	res, err := v.Rotate(runCtx, func(done, total int64) {
		if calls++; calls == stopAfter+1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Rotate error = %v; want context.Canceled", err)
	}
	counts := countByKEK(t, pool)
	if res.Total != int64(len(live)) || res.Rewrapped != stopAfter*batch || counts["new"] != res.Rewrapped ||
		counts["old"] != res.Total-res.Rewrapped {
		t.Fatalf("after the interruption: result %+v, keys by KEK %v", res, counts)
	}
	// Mid-rotation both wrappings open, with or without the cache.
	fresh := newVault(t, pool, v.Keyring(), Config{CacheTTL: -1})
	for _, kek := range []string{"old", "new"} {
		openAll(t, fresh, secretsUnder(t, pool, kek, secrets, 200))
	}

	// Second run resumes with what is left.
	var last [2]int64
	res2, err := v.Rotate(ctx, func(done, total int64) {
		if done < last[0] || done > total {
			t.Errorf("progress went from %v to (%d, %d)", last, done, total)
		}
		last = [2]int64{done, total}
	})
	if err != nil {
		t.Fatalf("resumed Rotate: %v", err)
	}
	if res2.Total != res.Total-res.Rewrapped || res2.Rewrapped != res2.Total || res2.Failed != 0 || last != [2]int64{res2.Total, res2.Total} {
		t.Fatalf("resumed Rotate = %+v, last progress %v", res2, last)
	}
	if counts := countByKEK(t, pool); len(counts) != 1 || counts["new"] != int64(len(live)) {
		t.Fatalf("after rotation, keys by KEK: %v", counts)
	}

	// Every secret opens without the old key, and the sealed values (what
	// events hold) are the very ones sealed before the rotation.
	openAll(t, newVault(t, pool, ring(t, keys, "new"), Config{}), live)
	_, err = newVault(t, pool, ring(t, keys, "new"), Config{}).Open(ctx, destroyed, FieldGenesysClientSecret, secrets[0].ciphertext)
	if !errors.Is(err, ErrShredded) {
		t.Errorf("destroyed tenant after rotation: %v", err)
	}

	// A third run has nothing to do.
	if res3, err := v.Rotate(ctx, nil); err != nil || res3.Total != 0 || res3.Rewrapped != 0 {
		t.Errorf("third Rotate = %+v, %v", res3, err)
	}
}

func TestRotateReportsKeysItCannotUnwrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	keys := testKeys(t, "gone", "old", "new")
	orphan := seedTenants(t, pool, ring(t, keys, "gone"), 1)[0]
	secrets := seedTenants(t, pool, ring(t, keys, "old"), 30)
	v := newVault(t, pool, ring(t, keys, "new", "old"), Config{RotateBatchSize: 7})

	res, err := v.Rotate(ctx, nil)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), string(orphan.tenant)) {
		t.Fatalf("Rotate error = %v; want ErrUnknownKey naming tenant %s", err, orphan.tenant)
	}
	if res.Total != 31 || res.Rewrapped != 30 || res.Failed != 1 {
		t.Errorf("Rotate = %+v; want 31 found, 30 rewrapped, 1 failed", res)
	}
	openAll(t, newVault(t, pool, ring(t, keys, "new"), Config{}), secrets)
	if counts := countByKEK(t, pool); counts["gone"] != 1 {
		t.Errorf("the key that failed changed: %v", counts)
	}
	// Putting the missing key back lets a rerun finish.
	res, err = newVault(t, pool, ring(t, keys, "new", "gone"), Config{}).Rotate(ctx, nil)
	if err != nil || res.Rewrapped != 1 {
		t.Errorf("rerun with the key restored = %+v, %v", res, err)
	}
}

func TestRunRotatePrintsProgressAndSummary(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	keys := testKeys(t, "old", "new")
	seedTenants(t, pool, ring(t, keys, "old"), 40)
	v := newVault(t, pool, ring(t, keys, "new", "old"), Config{RotateBatchSize: 10})
	var out bytes.Buffer
	res, err := RunRotate(context.Background(), v, &out)
	if err != nil || res.Rewrapped != 40 {
		t.Fatalf("RunRotate = %+v, %v", res, err)
	}
	text := out.String()
	if !strings.Contains(text, `rewrapped 40 of 40 data keys to "new"; 0 failed`) || !strings.Contains(text, "40/40") {
		t.Errorf("output lacks the progress or summary:\n%s", text)
	}
	for _, entry := range keys {
		if strings.Contains(text, entry[strings.Index(entry, ":")+1:][:12]) {
			t.Errorf("output shows key material:\n%s", text)
		}
	}
	out.Reset()
	if _, err := RunRotate(context.Background(), v, &out); err != nil || !strings.Contains(out.String(), "nothing to do") {
		t.Errorf("second RunRotate = %v:\n%s", err, out.String())
	}
}
