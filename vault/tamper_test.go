package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"tenant-service/domain"
	"tenant-service/internal/testenv"
)

func TestTamperedCiphertextFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := newVault(t, testenv.NewPool(t), ring(t, testKeys(t, "k1"), "k1"), Config{})
	tenant := domain.NewTenantID()
	const secret = "a-secret-worth-protecting"
	ct := mustSeal(t, v, tenant, FieldGenesysClientSecret, secret)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return Prefix + base64.StdEncoding.EncodeToString(b)
	}
	cases := map[string]struct {
		ct   string
		want error
	}{
		"nonce byte":         {flip(0), ErrTampered},
		"ciphertext byte":    {flip(nonceSize + 3), ErrTampered},
		"tag byte":           {flip(len(raw) - 1), ErrTampered},
		"truncated":          {Prefix + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), ErrTampered},
		"extended":           {Prefix + base64.StdEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)), ErrTampered},
		"too short":          {Prefix + base64.StdEncoding.EncodeToString(raw[:nonceSize+tagSize-1]), ErrMalformed},
		"not base64":         {ct[:len(ct)-4] + "!!!!", ErrMalformed},
		"no prefix":          {strings.TrimPrefix(ct, Prefix), ErrMalformed},
		"other version":      {"enc:v2:" + strings.TrimPrefix(ct, Prefix), ErrMalformed},
		"empty":              {"", ErrMalformed},
		"plaintext smuggled": {secret, ErrMalformed},
	}
	for name, tc := range cases {
		got, err := v.Open(ctx, tenant, FieldGenesysClientSecret, tc.ct)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Open error = %v, want %v", name, err, tc.want)
		}
		if got != "" {
			t.Errorf("%s: Open returned plaintext %q with an error", name, got)
		}
	}
	if got, err := v.Open(ctx, tenant, FieldGenesysClientSecret, ct); err != nil || got != secret {
		t.Errorf("the untouched value no longer opens: %q, %v", got, err)
	}
}

func TestCiphertextIsBoundToTenantAndField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := newVault(t, testenv.NewPool(t), ring(t, testKeys(t, "k1"), "k1"), Config{})
	a, b, keyless := domain.NewTenantID(), domain.NewTenantID(), domain.NewTenantID()
	ct := mustSeal(t, v, a, FieldGenesysClientSecret, "tenant-a-secret")
	mustSeal(t, v, b, FieldGenesysClientSecret, "tenant-b-secret") // b has a key too

	for name, open := range map[string]func() (string, error){
		"other tenant":         func() (string, error) { return v.Open(ctx, b, FieldGenesysClientSecret, ct) },
		"other field":          func() (string, error) { return v.Open(ctx, a, FieldGenesysWebhookSecret, ct) },
		"tenant without a key": func() (string, error) { return v.Open(ctx, keyless, FieldGenesysClientSecret, ct) },
	} {
		got, err := open()
		if !errors.Is(err, ErrTampered) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrTampered", name, got, err)
		}
	}
	// Open never creates a key.
	var n int
	if err := v.pool.QueryRow(ctx, `SELECT count(*) FROM data_keys WHERE tenant_id = $1`, string(keyless)).Scan(&n); err != nil || n != 0 {
		t.Errorf("Open created a data key: %d rows, %v", n, err)
	}
}

func TestAADBindsTenantUnderTheSameKey(t *testing.T) {
	// With one data key, only the AAD tells tenants apart.
	aead := testAEAD(t)
	a, b := domain.NewTenantID(), domain.NewTenantID()
	sealed, err := seal(aead, []byte("x"), sealAAD(a, FieldWhatsAppToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unseal(aead, sealed, sealAAD(b, FieldWhatsAppToken)); !errors.Is(err, ErrTampered) {
		t.Errorf("a value sealed for tenant a opened as tenant b: %v", err)
	}
	if pt, err := unseal(aead, sealed, sealAAD(a, FieldWhatsAppToken)); err != nil || string(pt) != "x" {
		t.Errorf("unseal = %q, %v", pt, err)
	}
}

func TestTamperedDataKeyRowFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	keys := testKeys(t, "k1")
	v := newVault(t, pool, ring(t, keys, "k1"), Config{})
	a, b := domain.NewTenantID(), domain.NewTenantID()
	ctA := mustSeal(t, v, a, FieldWhatsAppToken, "token-a")
	mustSeal(t, v, b, FieldWhatsAppToken, "token-b")

	// b's wrapped key copied into a's row: the wrap AAD names b.
	if _, err := pool.Exec(ctx, `UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE tenant_id = $2)
		WHERE tenant_id = $1`, string(a), string(b)); err != nil {
		t.Fatal(err)
	}
	fresh := newVault(t, pool, v.Keyring(), Config{})
	if got, err := fresh.Open(ctx, a, FieldWhatsAppToken, ctA); !errors.Is(err, ErrTampered) || got != "" {
		t.Errorf("Open with another tenant's wrapped key = %q, %v; want ErrTampered", got, err)
	}
	if _, err := fresh.Seal(ctx, a, FieldWhatsAppToken, "x"); !errors.Is(err, ErrTampered) {
		t.Errorf("Seal with a tampered key row = %v; want ErrTampered", err)
	}

	// The same id with other key material: a clear error, not garbage.
	other := ring(t, testKeys(t, "k1"), "k1")
	if _, err := newVault(t, pool, other, Config{}).Open(ctx, b, FieldWhatsAppToken, ctA); !errors.Is(err, ErrTampered) ||
		!strings.Contains(err.Error(), `key "k1"`) {
		t.Errorf("Open under wrong key material = %v", err)
	}

	// A key id the keyring lacks.
	unknown := ring(t, testKeys(t, "k2"), "k2")
	_, err := newVault(t, pool, unknown, Config{}).Open(ctx, b, FieldWhatsAppToken, ctA)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("Open with an unknown key id = %v; want ErrUnknownKey naming k1", err)
	}
	if strings.Contains(err.Error(), keys["k1"][3:15]) {
		t.Errorf("error shows key material: %v", err)
	}
}
