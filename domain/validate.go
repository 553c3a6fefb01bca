package domain

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on input fields.
const (
	MaxNameLen        = 200
	MaxExternalRefLen = 200
	MaxReasonLen      = 500
	MaxSecretLen      = 4096
	MaxClientIDLen    = 128
	MaxRatePerSecond  = 100000
	MaxRateBurst      = 1000000
)

type fieldErrors []FieldError

func (f *fieldErrors) check(field string, err error) {
	if err != nil {
		*f = append(*f, FieldError{Field: field, Message: err.Error()})
	}
}

func (f *fieldErrors) add(errs ...FieldError) { *f = append(*f, errs...) }

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f...)
}

func checkField(field string, err error) error {
	var f fieldErrors
	f.check(field, err)
	return f.err()
}

func validateName(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("is required")
	case !utf8.ValidString(s):
		return errors.New("must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return fmt.Errorf("must be at most %d characters", MaxNameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	}
	return nil
}

func validateExternalRef(s string) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New("must be valid UTF-8")
	case utf8.RuneCountInString(s) > MaxExternalRefLen:
		return fmt.Errorf("must be at most %d characters", MaxExternalRefLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	}
	return nil
}

// validateReason allows line breaks and tabs in a free-text reason, but no
// other control character (a NUL cannot even be stored in PostgreSQL's jsonb).
func validateReason(s string) error {
	if utf8.RuneCountInString(s) > MaxReasonLen || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0 {
		return Invalid(FieldError{Field: "reason", Message: fmt.Sprintf("must be valid UTF-8 of at most %d characters, without control characters but line breaks and tabs", MaxReasonLen)})
	}
	return nil
}

func validateSettings(s Settings) []FieldError {
	var f fieldErrors
	if r := s.RateLimit; r != nil {
		if r.PerSecond < 1 || r.PerSecond > MaxRatePerSecond {
			f.check("settings.rateLimit.perSecond", fmt.Errorf("must be between 1 and %d", MaxRatePerSecond))
		}
		if r.Burst < 1 || r.Burst > MaxRateBurst {
			f.check("settings.rateLimit.burst", fmt.Errorf("must be between 1 and %d", MaxRateBurst))
		}
	}
	return f
}

// ValidExternalID reports whether s could be an identifier this service
// stores (a phone number id, WABA id, integration id): what
// validateExternalID accepts. A lookup by any other value cannot match, and
// is answered without asking PostgreSQL or Redis.
func ValidExternalID(s string, max int) bool { return validateExternalID(s, max) == nil }

// validateExternalID checks an identifier issued by Meta or Genesys: printable
// ASCII without spaces or slashes, bounded.
func validateExternalID(s string, max int) error {
	if s == "" {
		return errors.New("is required")
	}
	if len(s) > max {
		return fmt.Errorf("must be at most %d characters", max)
	}
	for _, c := range s {
		if c <= ' ' || c > '~' || c == '/' || c == '?' || c == '#' || c == '%' || c == '\\' {
			return errors.New("must be printable ASCII without spaces, slashes, '?', '#', '%' or '\\'")
		}
	}
	return nil
}

func validateOptional(s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New("must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("must be at most %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	}
	return nil
}

func validateSecret(s string, required bool) error {
	switch {
	case s == "" && required:
		return errors.New("is required")
	case strings.TrimSpace(s) != s:
		return errors.New("must not start or end with white space")
	case len(s) > MaxSecretLen:
		return fmt.Errorf("must be at most %d bytes", MaxSecretLen)
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("must be valid UTF-8 without control characters")
	}
	return nil
}

// ValidateGenesysCredentials checks plaintext Genesys credentials before they
// are sealed.
func ValidateGenesysCredentials(clientID, clientSecret, region string) error {
	var f fieldErrors
	f.check("clientId", validateExternalID(clientID, MaxClientIDLen))
	f.check("clientSecret", validateSecret(clientSecret, true))
	if region == "" {
		f.check("region", errors.New("is required"))
	} else if !IsGenesysRegion(region) {
		f.check("region", fmt.Errorf("must be a Genesys Cloud region domain such as mypurecloud.com, not %q", truncate(region, 64)))
	}
	return f.err()
}

// ValidateIntegration checks a Genesys integration id and optional webhook secret.
func ValidateIntegration(integrationID, webhookSecret string) error {
	var f fieldErrors
	f.check("integrationId", validateExternalID(integrationID, 128))
	f.check("webhookSecret", validateSecret(webhookSecret, false))
	return f.err()
}

// ValidateAccountUpdate checks what a Meta webhook reported before it is
// recorded: the WABA and phone number ids as identifiers, the other fields
// as bounded text without control characters.
func ValidateAccountUpdate(u WhatsAppAccountUpdated) error {
	var f fieldErrors
	f.check("wabaId", validateExternalID(u.WABAID, 64))
	if u.PhoneNumberID != "" {
		f.check("phoneNumberId", validateExternalID(u.PhoneNumberID, 64))
	}
	f.check("field", validateOptional(u.Field, 64))
	f.check("event", validateOptional(u.Event, 128))
	f.check("qualityRating", validateOptional(u.QualityRating, 64))
	f.check("status", validateOptional(u.Status, 64))
	f.check("banState", validateOptional(u.BanState, 64))
	f.check("displayName", validateOptional(u.DisplayName, 200))
	return f.err()
}

// ValidateWhatsAppToken checks a plaintext WhatsApp access token.
func ValidateWhatsAppToken(field, token string) error {
	return checkField(field, validateSecret(token, true))
}

// SecretHint returns the display hint for a secret: "****" and its last four
// characters, or only "****" when the secret is too short to show any.
func SecretHint(secret string) string {
	if utf8.RuneCountInString(secret) < 12 {
		return "****"
	}
	r := []rune(secret)
	return "****" + string(r[len(r)-4:])
}

// Secret field names. They are bound into each ciphertext (AAD): persisted,
// so renaming one makes every stored secret of that field unreadable.
const (
	FieldGenesysClientSecret  = "genesys.clientSecret"
	FieldGenesysWebhookSecret = "genesys.webhookSecret"
	FieldWhatsAppAccessToken  = "whatsapp.accessToken"
)
