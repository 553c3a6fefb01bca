package vault

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

func newVault(t testing.TB, pool *pgxpool.Pool, k *Keyring, cfg Config) *Vault {
	t.Helper()
	v, err := New(pool, k, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func mustSeal(t testing.TB, v *Vault, tenant domain.TenantID, field, plaintext string) string {
	t.Helper()
	ct, err := v.Seal(context.Background(), tenant, field, plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return ct
}

func TestNewValidates(t *testing.T) {
	_, err := New(nil, nil, Config{CacheSize: -1, RotateBatchSize: 20000})
	if err == nil {
		t.Fatal("New accepted nil dependencies and a bad config")
	}
	for _, want := range []string{"pool is nil", "keyring is nil", "CacheSize", "RotateBatchSize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	v := newVault(t, pool, ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	for _, plaintext := range []string{"s3cr3t-client-secret-value", "", "ünïcødé ✓", strings.Repeat("x", domain.MaxSecretLen)} {
		ct := mustSeal(t, v, tenant, FieldGenesysClientSecret, plaintext)
		if !strings.HasPrefix(ct, Prefix) {
			t.Errorf("sealed value %q lacks the %s prefix", ct, Prefix)
		}
		if len(plaintext) > 3 && strings.Contains(ct, plaintext) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := v.Open(ctx, tenant, FieldGenesysClientSecret, ct)
		if err != nil || got != plaintext {
			t.Fatalf("Open = %q, %v; want %q", got, err, plaintext)
		}
		// A fresh vault (no cache) reads the stored key.
		fresh := newVault(t, pool, v.Keyring(), Config{})
		if got, err := fresh.Open(ctx, tenant, FieldGenesysClientSecret, ct); err != nil || got != plaintext {
			t.Fatalf("Open on a fresh vault = %q, %v", got, err)
		}
	}
	a := mustSeal(t, v, tenant, FieldWhatsAppToken, "same")
	b := mustSeal(t, v, tenant, FieldWhatsAppToken, "same")
	if a == b {
		t.Error("sealing the same value twice gave the same ciphertext: nonces are reused")
	}
	// The tenant id is canonicalised: uppercase in, lowercase AAD.
	upper := domain.TenantID(strings.ToUpper(string(tenant)))
	ct := mustSeal(t, v, upper, FieldWhatsAppToken, "token")
	if got, err := v.Open(ctx, tenant, FieldWhatsAppToken, ct); err != nil || got != "token" {
		t.Errorf("Open after sealing under the uppercase id = %q, %v", got, err)
	}
	var keys int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM data_keys`).Scan(&keys); err != nil || keys != 1 {
		t.Errorf("data_keys has %d rows (%v), want 1 for one tenant", keys, err)
	}
}

func TestSealRef(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := newVault(t, testenv.NewPool(t), ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	const secret = "abcdefghijklmnop-wxyz"
	ref, err := v.SealRef(ctx, tenant, FieldGenesysWebhookSecret, secret)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Hint != domain.SecretHint(secret) || strings.Contains(ref.Ciphertext, secret) {
		t.Errorf("SealRef = %+v", ref)
	}
	if got, err := v.OpenRef(ctx, tenant, FieldGenesysWebhookSecret, ref); err != nil || got != secret {
		t.Errorf("OpenRef = %q, %v", got, err)
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	t.Parallel()
	v := newVault(t, testenv.NewPool(t), ring(t, testKeys(t, "k1"), "k1"), Config{})
	ctx := context.Background()
	if _, err := v.Seal(ctx, "not-a-uuid", FieldWhatsAppToken, "x"); err == nil {
		t.Error("Seal accepted a malformed tenant id")
	}
	if _, err := v.Seal(ctx, domain.NewTenantID(), "", "x"); err == nil {
		t.Error("Seal accepted an empty field")
	}
	if _, err := v.Open(ctx, domain.NewTenantID(), strings.Repeat("f", 200), Prefix+"AAAA"); err == nil {
		t.Error("Open accepted an over-long field")
	}
}

func TestSealInTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	v := newVault(t, pool, ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()

	// Rolled back: the key created in the transaction is gone and was not
	// cached, so a later seal creates and stores a new one.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost, err := v.SealTx(ctx, tx, tenant, FieldWhatsAppToken, "rolled back")
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if v.cache.len() != 0 {
		t.Error("a key created in a transaction was cached before commit")
	}
	kept := mustSeal(t, v, tenant, FieldWhatsAppToken, "kept")
	fresh := newVault(t, pool, v.Keyring(), Config{})
	if got, err := fresh.Open(ctx, tenant, FieldWhatsAppToken, kept); err != nil || got != "kept" {
		t.Fatalf("Open after a rolled-back first seal = %q, %v", got, err)
	}
	if _, err := fresh.Open(ctx, tenant, FieldWhatsAppToken, lost); !errors.Is(err, ErrTampered) {
		t.Errorf("a value sealed under a rolled-back key opened: %v", err)
	}

	// Committed: another tenant's key created in the transaction is stored.
	other := domain.NewTenantID()
	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := v.SealTx(ctx, tx, other, FieldWhatsAppToken, "committed")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.Open(ctx, other, FieldWhatsAppToken, ct); err != nil || got != "committed" {
		t.Errorf("Open of a value sealed in a committed transaction = %q, %v", got, err)
	}
}
