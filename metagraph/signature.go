package metagraph

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"strings"
)

// SignatureHeader is the header Meta signs webhook bodies in.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value Meta would send for the body:
// "sha256=" and the lowercase hex HMAC-SHA256 of the raw bytes keyed with the
// app secret. Tests use it to sign payloads.
func Sign(appSecret string, rawBody []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(rawBody)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is a valid X-Hub-Signature-256 of the
// raw request body. Hash the bytes exactly as received, before any JSON
// decoding: Meta signs its escaped-unicode rendering ("\u00e4"), which a
// re-serialisation would not reproduce. The comparison is constant-time. An
// empty app secret never verifies.
func VerifySignature(appSecret string, rawBody []byte, header string) bool {
	if appSecret == "" || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	got, err := hex.DecodeString(strings.TrimPrefix(header, signaturePrefix))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(rawBody)
	return hmac.Equal(got, m.Sum(nil))
}

// VerifyChallenge answers Meta's GET verification handshake: when hub.mode is
// "subscribe" and hub.verify_token equals verifyToken (compared in constant
// time; an empty verifyToken never matches), it returns hub.challenge and
// true, to be sent back as the plain body of a 200. Otherwise answer 403.
func VerifyChallenge(query url.Values, verifyToken string) (string, bool) {
	if verifyToken == "" || query.Get("hub.mode") != "subscribe" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(query.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	return query.Get("hub.challenge"), true
}
