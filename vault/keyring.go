package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// KeySize is the size in bytes of every key-encryption key and data key
// (AES-256).
const KeySize = 32

// maxKeyIDLen is short enough that a base64 key (43+ characters) pasted in the
// id position is rejected without being echoed in an error.
const maxKeyIDLen = 32

// Keyring holds the key-encryption keys (KEKs) from ENCRYPTION_KEYS: the
// active one wraps new data keys, every one unwraps the data keys wrapped by
// it. A Keyring is safe for concurrent use. Its String, GoString and LogValue
// methods show key ids only, never key material.
type Keyring struct {
	active string
	ids    []string // in ENCRYPTION_KEYS order
	aeads  map[string]cipher.AEAD
}

// ParseKeyring parses ENCRYPTION_KEYS ("id:base64(32 bytes)" entries,
// comma-separated) and ENCRYPTION_ACTIVE_KEY (a key id; empty means the
// first entry). Errors name the bad entry by position and id, never by its
// key material.
func ParseKeyring(keys, active string) (*Keyring, error) {
	if strings.TrimSpace(keys) == "" {
		return nil, errors.New("ENCRYPTION_KEYS is empty: want id:base64key entries, comma-separated")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	var errs []error
	for i, entry := range strings.Split(keys, ",") {
		id, material, err := parseEntry(strings.TrimSpace(entry))
		switch {
		case err != nil && id != "":
			errs = append(errs, fmt.Errorf("ENCRYPTION_KEYS entry %d (%q): %w", i+1, id, err))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("ENCRYPTION_KEYS entry %d: %w", i+1, err))
			continue
		}
		if _, dup := k.aeads[id]; dup {
			errs = append(errs, fmt.Errorf("ENCRYPTION_KEYS entry %d (%q): key id is used twice", i+1, id))
			continue
		}
		aead, err := newAEAD(material)
		clear(material)
		if err != nil {
			errs = append(errs, fmt.Errorf("ENCRYPTION_KEYS entry %d (%q): %w", i+1, id, err))
			continue
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	k.active = strings.TrimSpace(active)
	if k.active == "" {
		k.active = k.ids[0]
	}
	if err := validateKeyID(k.active); err != nil {
		// Not echoed: a malformed value may be key material pasted in the wrong variable.
		return nil, fmt.Errorf("ENCRYPTION_ACTIVE_KEY: %w", err)
	}
	if _, ok := k.aeads[k.active]; !ok {
		return nil, fmt.Errorf("ENCRYPTION_ACTIVE_KEY %q is not a key id in ENCRYPTION_KEYS (ids: %s)",
			k.active, strings.Join(k.ids, ", "))
	}
	return k, nil
}

// parseEntry splits "id:base64" and decodes the key. On error it returns the
// id only when the id itself is valid; the error never contains key material.
func parseEntry(entry string) (string, []byte, error) {
	id, encoded, ok := strings.Cut(entry, ":")
	if !ok {
		return "", nil, errors.New("want id:base64key")
	}
	id, encoded = strings.TrimSpace(id), strings.TrimSpace(encoded)
	if err := validateKeyID(id); err != nil {
		return "", nil, err
	}
	material, err := decodeKey(encoded)
	if err != nil {
		return id, nil, err
	}
	return id, material, nil
}

func validateKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("key id must be 1 to %d characters", maxKeyIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("key id may contain only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// decodeKey accepts standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			clear(b)
			return nil, fmt.Errorf("key must decode to %d bytes, got %d", KeySize, len(b))
		}
		return b, nil
	}
	return nil, errors.New("key is not valid base64")
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
}

// GenerateKeyEntry returns a new random key-encryption key as an
// ENCRYPTION_KEYS entry "id:base64(32 bytes)", for operators adding a key.
// The result is key material: print it only where the operator asked for it.
func GenerateKeyEntry(id string) (string, error) {
	if err := validateKeyID(id); err != nil {
		return "", err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	defer clear(key)
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// ActiveID returns the id of the key that wraps new data keys.
func (k *Keyring) ActiveID() string { return k.active }

// IDs returns every key id in ENCRYPTION_KEYS order.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Has reports whether the keyring holds the key id.
func (k *Keyring) Has(id string) bool { _, ok := k.aeads[id]; return ok }

// String describes the keyring by its key ids.
func (k *Keyring) String() string {
	return fmt.Sprintf("Keyring(active=%s, ids=[%s])", k.active, strings.Join(k.ids, " "))
}

// GoString is String, so %#v shows no key material either.
func (k *Keyring) GoString() string { return k.String() }

// LogValue logs the key ids only.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("active", k.active), slog.Any("ids", k.ids))
}
