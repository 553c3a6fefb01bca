package vault

import (
	"crypto/cipher"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/internal/testkit"
)

func testAEAD(t *testing.T) cipher.AEAD {
	t.Helper()
	a, err := newAEAD(make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKeyCacheExpires(t *testing.T) {
	clock := testkit.NewClockAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newKeyCache(time.Minute, 10, clock.Now)
	tenant := domain.NewTenantID()
	c.put(tenant, testAEAD(t), c.generation())
	clock.Advance(59 * time.Second)
	if _, ok := c.get(tenant); !ok {
		t.Fatal("key gone before its TTL")
	}
	clock.Advance(time.Second)
	if _, ok := c.get(tenant); ok {
		t.Fatal("key still cached after its TTL")
	}
	if c.len() != 0 {
		t.Errorf("expired entry kept: %d entries", c.len())
	}
}

func TestKeyCacheIsBounded(t *testing.T) {
	clock := testkit.NewClockAt(time.Now())
	const max = 50
	c := newKeyCache(time.Minute, max, clock.Now)
	a := testAEAD(t)
	ids := make([]domain.TenantID, 0, 3*max)
	for range 3 * max {
		id := domain.NewTenantID()
		ids = append(ids, id)
		c.put(id, a, c.generation())
		if c.len() > max {
			t.Fatalf("cache holds %d keys, bound is %d", c.len(), max)
		}
	}
	if _, ok := c.get(ids[len(ids)-1]); !ok {
		t.Error("the newest key was not cached")
	}
}

func TestKeyCacheOff(t *testing.T) {
	c := newKeyCache(-1, 10, time.Now)
	id := domain.NewTenantID()
	c.put(id, testAEAD(t), c.generation())
	if _, ok := c.get(id); ok {
		t.Error("a negative TTL still caches")
	}
}

func TestKeyCacheForgetInvalidatesLoadsInFlight(t *testing.T) {
	c := newKeyCache(time.Minute, 10, time.Now)
	a := testAEAD(t)
	loading, other := domain.NewTenantID(), domain.NewTenantID()
	c.put(other, a, c.generation())
	gen := c.generation() // a load of `loading` starts
	c.forget(loading)     // a Destroy happens meanwhile
	c.put(loading, a, gen)
	if _, ok := c.get(loading); ok {
		t.Error("a key read before a Destroy was cached after it")
	}
	if _, ok := c.get(other); !ok {
		t.Error("forget dropped another tenant's key")
	}
	c.put(loading, a, c.generation())
	if _, ok := c.get(loading); !ok {
		t.Error("a load started after the Destroy was not cached")
	}
}
