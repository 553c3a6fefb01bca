package tokencache_test

import (
	"context"
	"testing"

	"tenant-service/genesys"
	"tenant-service/genesys/genesystest"
	"tenant-service/genesys/tokencache"
	"tenant-service/internal/testenv"
)

// BenchmarkWarmToken measures a cache hit: one Redis GET and one Open.
func BenchmarkWarmToken(b *testing.B) {
	rdb, prefix := testenv.NewRedis(b)
	fake := genesystest.NewServer(b, genesystest.Config{})
	fake.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	client, err := genesys.NewClient(genesys.ClientConfig{LoginURL: fake.URL})
	if err != nil {
		b.Fatal(err)
	}
	sealer := newSealer(b)
	p, err := tokencache.NewProvider(rdb, client, sealer, tokencache.ProviderConfig{KeyPrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	creds := genesys.Credentials{TenantID: testenv.Name("tenant-"), Region: genesystest.Region, ClientID: genesystest.ClientID, ClientSecret: genesystest.ClientSecret, Version: "1"}
	ctx := context.Background()
	if _, err := p.Token(ctx, creds); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Token(ctx, creds); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if fake.Calls() != 1 {
		b.Errorf("calls to Genesys = %d, want 1", fake.Calls())
	}
}
