package vault

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

func TestDestroyShredsTheTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	v := newVault(t, pool, ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant, bystander := domain.NewTenantID(), domain.NewTenantID()
	ct := mustSeal(t, v, tenant, FieldGenesysClientSecret, "doomed-secret")
	kept := mustSeal(t, v, bystander, FieldGenesysClientSecret, "kept-secret")

	// Rolled back: nothing happened.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Destroy(ctx, tx, tenant); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if got, err := v.Open(ctx, tenant, FieldGenesysClientSecret, ct); err != nil || got != "doomed-secret" {
		t.Fatalf("Open after a rolled-back Destroy = %q, %v", got, err)
	}

	// Committed, with the key in this vault's cache.
	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Destroy(ctx, tx, tenant); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for name, vv := range map[string]*Vault{"same vault": v, "fresh vault": newVault(t, pool, v.Keyring(), Config{})} {
		got, err := vv.Open(ctx, tenant, FieldGenesysClientSecret, ct)
		if !errors.Is(err, ErrShredded) || got != "" {
			t.Errorf("%s: Open after Destroy = %q, %v; want ErrShredded", name, got, err)
		}
		if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindRefused || de.Code != "secrets-shredded" {
			t.Errorf("%s: Open error %v is not the secrets-shredded domain error", name, err)
		}
		if _, err := vv.Seal(ctx, tenant, FieldGenesysClientSecret, "new"); !errors.Is(err, ErrShredded) {
			t.Errorf("%s: Seal after Destroy = %v; want ErrShredded", name, err)
		}
	}
	if got, err := v.Open(ctx, bystander, FieldGenesysClientSecret, kept); err != nil || got != "kept-secret" {
		t.Errorf("another tenant's secret = %q, %v", got, err)
	}

	// The row stays as the audit record, without key material.
	var wrappedNull, destroyed bool
	var kekID string
	err = pool.QueryRow(ctx, `SELECT wrapped IS NULL, destroyed_at IS NOT NULL, kek_id FROM data_keys WHERE tenant_id = $1`,
		string(tenant)).Scan(&wrappedNull, &destroyed, &kekID)
	if err != nil || !wrappedNull || !destroyed || kekID != "k1" {
		t.Errorf("data_keys row: wrapped null=%v destroyed=%v kek=%q err=%v", wrappedNull, destroyed, kekID, err)
	}
	if err := v.Destroy(ctx, nil, tenant); err != nil {
		t.Errorf("a second Destroy: %v", err)
	}
}

func TestDestroyWithoutAKeyStopsOneBeingCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := newVault(t, testenv.NewPool(t), ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	if err := v.Destroy(ctx, nil, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, tenant, FieldWhatsAppToken, "late"); !errors.Is(err, ErrShredded) {
		t.Errorf("Seal for a destroyed keyless tenant = %v; want ErrShredded", err)
	}
}

func TestOpenDuringUncommittedDestroyDoesNotCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	v := newVault(t, pool, ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	ct := mustSeal(t, v, tenant, FieldWhatsAppToken, "token")
	reader := newVault(t, pool, v.Keyring(), Config{})

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Destroy(ctx, tx, tenant); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := reader.Open(ctx, tenant, FieldWhatsAppToken, ct)
		done <- err
	}()
	// Commit once the reader has read the row or is waiting for its lock.
	var first error
	waitForReader := time.Now().Add(10 * time.Second)
wait:
	for time.Now().Before(waitForReader) {
		select {
		case first = <-done:
			done <- first
			break wait
		default:
		}
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if first = <-done; first != nil && !errors.Is(first, ErrShredded) {
		t.Fatalf("Open racing a Destroy = %v", first)
	}
	// Whatever the reader saw before the commit, it must not keep the key.
	if _, err := reader.Open(ctx, tenant, FieldWhatsAppToken, ct); !errors.Is(err, ErrShredded) {
		t.Errorf("Open after the Destroy committed = %v; want ErrShredded", err)
	}
	if n := reader.cache.len(); n != 0 {
		t.Errorf("the reader cached %d keys of a shredded tenant", n)
	}
}

func TestConcurrentFirstSealCreatesOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	k := ring(t, testKeys(t, "k1"), "k1")
	tenant := domain.NewTenantID()
	const writers = 12
	cts := make([]string, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		v := newVault(t, pool, k, Config{}) // one per replica: no shared cache
		wg.Go(func() {
			<-start
			var err error
			if i%2 == 0 {
				cts[i], err = v.Seal(ctx, tenant, FieldWhatsAppToken, "concurrent")
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
				return
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
				return
			}
			defer tx.Rollback(ctx)
			if cts[i], err = v.SealTx(ctx, tx, tenant, FieldWhatsAppToken, "concurrent"); err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				t.Errorf("writer %d in a transaction: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM data_keys`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("data_keys holds %d rows (%v), want one key for the tenant", n, err)
	}
	fresh := newVault(t, pool, k, Config{})
	for i, ct := range cts {
		if got, err := fresh.Open(ctx, tenant, FieldWhatsAppToken, ct); err != nil || got != "concurrent" {
			t.Errorf("writer %d's value = %q, %v: it was sealed under a key that lost the race", i, got, err)
		}
	}
}

// Live asks PostgreSQL, not the cache: a key destroyed by another process
// (another replica's vault) is reported shredded at once, and dropped from
// this vault's cache, which would otherwise still open the secret.
func TestLiveSeesADestroyByAnotherReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	here := newVault(t, pool, ring(t, testKeys(t, "k1"), "k1"), Config{})
	there := newVault(t, pool, here.Keyring(), Config{})
	tenant := domain.NewTenantID()
	ct := mustSeal(t, here, tenant, FieldWhatsAppToken, "token-to-shred")
	if err := here.Live(ctx, tenant); err != nil {
		t.Fatalf("Live of a live key: %v", err)
	}
	if err := here.Live(ctx, domain.NewTenantID()); err != nil {
		t.Fatalf("Live of a tenant without a key: %v", err)
	}
	if err := there.Destroy(ctx, nil, tenant); err != nil {
		t.Fatal(err)
	}
	if here.cache.len() != 1 {
		t.Fatalf("this vault should still cache the key; %d cached", here.cache.len())
	}
	if err := here.Live(ctx, tenant); !errors.Is(err, ErrShredded) {
		t.Fatalf("Live after another replica destroyed the key = %v, want ErrShredded", err)
	}
	if got, err := here.Open(ctx, tenant, FieldWhatsAppToken, ct); !errors.Is(err, ErrShredded) || got != "" {
		t.Fatalf("Open after Live found the key destroyed = %q, %v; want ErrShredded (cache dropped)", got, err)
	}
}
