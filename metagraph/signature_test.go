package metagraph_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"tenant-service/metagraph"
)

const appSecret = "0123456789abcdef0123456789abcdef"

// escapedBody is how Meta sends non-ASCII text: escaped unicode ("äöå").
var escapedBody = []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1743451903,` +
	`"changes":[{"field":"phone_number_name_update","value":{"display_phone_number":"15550783881",` +
	`"decision":"APPROVED","requested_verified_name":"K\u00e4se \u00f6l \u00e5"}}]}]}`)

// hexHMAC computes the signature independently of the package.
func hexHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignMatchesHMAC(t *testing.T) {
	if got, want := metagraph.Sign(appSecret, escapedBody), "sha256="+hexHMAC(appSecret, escapedBody); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	valid := "sha256=" + hexHMAC(appSecret, escapedBody)
	tampered := append([]byte(nil), escapedBody...)
	tampered[len(tampered)-5] = 'X'
	cases := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"valid", appSecret, escapedBody, valid, true},
		{"wrong secret", "another-secret", escapedBody, valid, false},
		{"tampered body", appSecret, tampered, valid, false},
		{"missing prefix", appSecret, escapedBody, strings.TrimPrefix(valid, "sha256="), false},
		{"sha1 prefix", appSecret, escapedBody, "sha1=" + strings.TrimPrefix(valid, "sha256="), false},
		{"empty header", appSecret, escapedBody, "", false},
		{"not hex", appSecret, escapedBody, "sha256=" + strings.Repeat("zz", 32), false},
		{"truncated", appSecret, escapedBody, valid[:len(valid)-2], false},
		{"empty secret", "", escapedBody, "sha256=" + hexHMAC("", escapedBody), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := metagraph.VerifySignature(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSignatureNeedsRawBytes shows why the raw body must be hashed: decoding
// and re-encoding turns \u00e4 into UTF-8 bytes, which Meta did not sign.
func TestSignatureNeedsRawBytes(t *testing.T) {
	header := metagraph.Sign(appSecret, escapedBody)
	var v any
	if err := json.Unmarshal(escapedBody, &v); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reencoded), "Käse") {
		t.Fatalf("re-encoding kept the escapes: %s", reencoded)
	}
	if metagraph.VerifySignature(appSecret, reencoded, header) {
		t.Error("a re-encoded body verified")
	}
	if !metagraph.VerifySignature(appSecret, escapedBody, header) {
		t.Error("the raw body did not verify")
	}
}

func TestVerifyChallenge(t *testing.T) {
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"verify-me"}, "hub.challenge": {"1158201444"}}
	if got, ok := metagraph.VerifyChallenge(q, "verify-me"); !ok || got != "1158201444" {
		t.Errorf("valid handshake = %q, %v", got, ok)
	}
	if _, ok := metagraph.VerifyChallenge(q, "other"); ok {
		t.Error("wrong verify token accepted")
	}
	if _, ok := metagraph.VerifyChallenge(q, ""); ok {
		t.Error("empty configured verify token accepted")
	}
	q.Set("hub.mode", "unsubscribe")
	if _, ok := metagraph.VerifyChallenge(q, "verify-me"); ok {
		t.Error("mode other than subscribe accepted")
	}
}
