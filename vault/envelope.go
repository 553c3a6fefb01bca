package vault

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"tenant-service/domain"
)

// Prefix starts every sealed value (format version 1). Persisted: it is
// stored in events and read models; changing it makes every stored secret
// unreadable. A new format gets a new prefix beside this one.
const Prefix = "enc:v1:"

const (
	nonceSize = 12 // AES-GCM standard nonce
	tagSize   = 16
	// maxFieldLen bounds field names; they are part of the AAD.
	maxFieldLen = 128
)

// Field names bound into the AAD of the secrets the service stores; the
// domain owns them. Persisted: a sealed value opens only under the field it
// was sealed for, so renaming one makes every stored secret of that field
// unreadable.
const (
	FieldGenesysClientSecret  = domain.FieldGenesysClientSecret
	FieldGenesysWebhookSecret = domain.FieldGenesysWebhookSecret
	FieldWhatsAppToken        = domain.FieldWhatsAppAccessToken
)

// sealAAD is the additional data of a sealed value: it binds the ciphertext
// to its tenant and field. Persisted: see doc.go.
func sealAAD(tenant domain.TenantID, field string) []byte {
	return []byte("tenant:" + string(tenant) + "|field:" + field + "|v1")
}

// wrapAAD is the additional data of a wrapped data key: it binds the wrapped
// key to its tenant. Persisted: see doc.go.
func wrapAAD(tenant domain.TenantID) []byte {
	return []byte("tenant:" + string(tenant) + "|data-key|v1")
}

// seal encrypts plaintext under aead with a fresh random nonce and returns
// nonce ‖ ciphertext ‖ tag.
func seal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return aead.Seal(out, out[:nonceSize], plaintext, aad), nil
}

// unseal reverses seal. Any failure is ErrTampered and returns no plaintext.
func unseal(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, ErrTampered
	}
	pt, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}

// encode formats a sealed value as Prefix + base64.
func encode(sealed []byte) string {
	return Prefix + base64.StdEncoding.EncodeToString(sealed)
}

// decode parses a value written by encode.
func decode(ciphertext string) ([]byte, error) {
	rest, ok := strings.CutPrefix(ciphertext, Prefix)
	if !ok {
		if strings.HasPrefix(ciphertext, "enc:") {
			return nil, fmt.Errorf("%w: unsupported format version", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: missing %q prefix", ErrMalformed, Prefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64", ErrMalformed)
	}
	if len(b) < nonceSize+tagSize {
		return nil, fmt.Errorf("%w: payload is %d bytes, shorter than nonce and tag", ErrMalformed, len(b))
	}
	return b, nil
}

// checkInput validates and canonicalises the tenant id and field name that
// go into the AAD.
func checkInput(tenant domain.TenantID, field string) (domain.TenantID, error) {
	id, err := domain.ParseTenantID(string(tenant))
	if err != nil {
		return "", err
	}
	if field == "" || len(field) > maxFieldLen {
		return "", fmt.Errorf("field name must be 1 to %d bytes", maxFieldLen)
	}
	return id, nil
}

// wrap encrypts a data key for the tenant under the active key-encryption
// key and returns that key's id and nonce ‖ wrapped key ‖ tag.
func (k *Keyring) wrap(tenant domain.TenantID, dek []byte) (string, []byte, error) {
	w, err := seal(k.aeads[k.active], dek, wrapAAD(tenant))
	if err != nil {
		return "", nil, fmt.Errorf("wrap data key: %w", err)
	}
	return k.active, w, nil
}

// unwrap decrypts the tenant's data key wrapped by key-encryption key kekID.
func (k *Keyring) unwrap(tenant domain.TenantID, kekID string, wrapped []byte) ([]byte, error) {
	aead, ok := k.aeads[kekID]
	if !ok {
		return nil, &domain.Error{Kind: domain.KindUnavailable, Code: "encryption-key-missing",
			Detail: fmt.Sprintf("the tenant's data key is wrapped by key-encryption key %q, which ENCRYPTION_KEYS does not hold; add it back", kekID),
			Err:    fmt.Errorf("%w: the data key of tenant %s is wrapped by key %q", ErrUnknownKey, tenant, kekID)}
	}
	dek, err := unseal(aead, wrapped, wrapAAD(tenant))
	if err != nil {
		return nil, fmt.Errorf("%w: the data key of tenant %s does not open under key %q (wrong key material for that id, or a changed row)",
			ErrTampered, tenant, kekID)
	}
	if len(dek) != KeySize {
		clear(dek)
		return nil, fmt.Errorf("%w: the data key of tenant %s has %d bytes", ErrTampered, tenant, len(dek))
	}
	return dek, nil
}
