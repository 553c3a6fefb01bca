package vault

import (
	"context"
	"testing"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

// BenchmarkSeal seals with the tenant's data key cached.
func BenchmarkSeal(b *testing.B) {
	v := newVault(b, testenv.NewPool(b), ring(b, testKeys(b, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	mustSeal(b, v, tenant, FieldGenesysClientSecret, "warm-up")
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Seal(ctx, tenant, FieldGenesysClientSecret, "a-typical-oauth-client-secret-0123456789"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens with the tenant's data key cached.
func BenchmarkOpen(b *testing.B) {
	benchmarkOpen(b, Config{})
}

// BenchmarkOpenUncached reads and unwraps the data key on every Open.
func BenchmarkOpenUncached(b *testing.B) {
	benchmarkOpen(b, Config{CacheTTL: -1})
}

func benchmarkOpen(b *testing.B, cfg Config) {
	v := newVault(b, testenv.NewPool(b), ring(b, testKeys(b, "k1"), "k1"), cfg)
	tenant := domain.NewTenantID()
	ct := mustSeal(b, v, tenant, FieldGenesysClientSecret, "a-typical-oauth-client-secret-0123456789")
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Open(ctx, tenant, FieldGenesysClientSecret, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLive is the check the secret and token routes make on every
// call: one primary-key read of data_keys, never cached.
func BenchmarkLive(b *testing.B) {
	v := newVault(b, testenv.NewPool(b), ring(b, testKeys(b, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	mustSeal(b, v, tenant, FieldGenesysClientSecret, "warm-up")
	ctx := context.Background()
	for b.Loop() {
		if err := v.Live(ctx, tenant); err != nil {
			b.Fatal(err)
		}
	}
}
