// Package vault owns the tenants' secrets at rest: envelope encryption with
// one data key per tenant, crypto-shredding, and key-encryption key rotation.
//
// # Keys
//
// Key-encryption keys (KEKs) come from ENCRYPTION_KEYS, "id:base64(32
// bytes)" entries separated by commas, parsed by ParseKeyring; the key named
// by ENCRYPTION_ACTIVE_KEY (default: the first) wraps new data keys, and
// every listed key unwraps the data keys wrapped by it. In development
// DevKeyring keeps a generated key in a local file instead.
//
// Each tenant has one random AES-256 data key (DEK), created by its first
// Seal and stored wrapped in the data_keys table (migration 00003), never in
// events:
//
//	data_keys.kek_id  = id of the KEK that wrapped it
//	data_keys.wrapped = nonce (12 bytes) ‖ AES-256-GCM(KEK, DEK) ‖ tag (16 bytes)
//	wrap AAD          = "tenant:<tenant id>|data-key|v1"
//
// The AAD binds the wrapped key to its tenant: a wrapped key copied to
// another tenant's row fails to unwrap.
//
// # Sealed values
//
// Seal returns a self-describing string:
//
//	enc:v1:<base64(nonce ‖ ciphertext ‖ tag)>
//
//	enc:v1:  the format version (Prefix)
//	base64   standard alphabet with padding (RFC 4648 §4)
//	nonce    12 random bytes, fresh for every Seal
//	ciphertext, tag
//	         AES-256-GCM under the tenant's DEK, 16-byte tag
//	AAD      "tenant:<tenant id>|field:<field>|v1"
//
// The tenant id in the AAD is the lowercase canonical UUID. The AAD binds
// the value to its tenant and field (FieldGenesysClientSecret, ...): moved to
// another tenant or field, it fails with ErrTampered, as does any changed
// byte. Open fails closed: it returns plaintext only when authentication
// succeeds. The value names no key: the tenant has one DEK, and the KEK
// wrapping it is recorded in its data_keys row, so KEK rotation rewraps data
// keys and never rewrites sealed values or events. A future format (say,
// rotating DEKs) gets a new prefix, enc:v2:, beside this one.
//
// # Crypto-shredding and rotation
//
// Destroy erases a tenant's wrapped DEK in the caller's transaction (the one
// appending TenantDeleted): from then on Open returns ErrShredded (a domain
// error, 422 "secrets-shredded") and Seal refuses. The row stays with its
// kek_id and destroyed_at as the audit record.
//
// Rotate (and RunRotate, the `keys rotate` command) rewraps every live DEK
// not yet under the active KEK, in batches, resumably. To retire a KEK: add a
// new key to ENCRYPTION_KEYS, make it active, deploy, run `keys rotate` until
// it reports nothing left, then remove the old key.
//
// Unwrapped DEKs are cached in memory (Config.CacheTTL, default 5 minutes),
// so another process may open a destroyed tenant's values until its cached
// copy expires. Key material never appears in errors or logs; Keyring
// formats itself as its key ids.
package vault
