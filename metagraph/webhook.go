package metagraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Webhook object and field names Meta sends for WhatsApp Business Accounts.
const (
	ObjectWhatsAppBusinessAccount = "whatsapp_business_account"

	FieldAccountUpdate            = "account_update"
	FieldPhoneNumberQualityUpdate = "phone_number_quality_update"
	FieldPhoneNumberNameUpdate    = "phone_number_name_update"
	FieldMessages                 = "messages"
)

// Notification is one webhook POST: several entries, each with changes.
type Notification struct {
	Object string  `json:"object"` // "whatsapp_business_account"
	Entry  []Entry `json:"entry"`
}

// Entry is the changes of one object; for WhatsApp its ID is the WABA id.
type Entry struct {
	ID      string    `json:"id"`
	Time    Timestamp `json:"time"` // absent on messages webhooks
	Changes []Change  `json:"changes"`
}

// Change is one change of one field.
type Change struct {
	Field string      `json:"field"`
	Value ChangeValue `json:"value"`
}

// PhoneNumberID returns value.metadata.phone_number_id, or "" when the change
// has no metadata (account_update, quality and name updates). Resolve the
// tenant by it first and by the entry's WABA id otherwise.
func (c Change) PhoneNumberID() string {
	if c.Value.Metadata == nil {
		return ""
	}
	return c.Value.Metadata.PhoneNumberID
}

// ChangeValue holds the fields of the value objects the tenant service reads:
// messages metadata, account_update, phone_number_quality_update and
// phone_number_name_update. Raw keeps the whole value as Meta sent it. A field
// of an unexpected JSON type is left empty rather than failing the parse.
type ChangeValue struct {
	MessagingProduct string    `json:"messaging_product,omitempty"`
	Metadata         *Metadata `json:"metadata,omitempty"`

	// Event: account_update (ACCOUNT_VIOLATION, DISABLED_UPDATE,
	// PARTNER_APP_UNINSTALLED, VERIFIED_ACCOUNT...) and quality updates
	// (FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE, ONBOARDING, THROUGHPUT_UPGRADE).
	Event string `json:"event,omitempty"`
	// PhoneNumber is sent by older account_update events (VERIFIED_ACCOUNT).
	PhoneNumber        string `json:"phone_number,omitempty"`
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	Country            string `json:"country,omitempty"` // BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE

	BanInfo         *BanInfo       `json:"ban_info,omitempty"`         // DISABLED_UPDATE
	ViolationInfo   *ViolationInfo `json:"violation_info,omitempty"`   // ACCOUNT_VIOLATION
	RestrictionInfo []Restriction  `json:"restriction_info,omitempty"` // ACCOUNT_RESTRICTION
	WABAInfo        *WABAInfo      `json:"waba_info,omitempty"`        // PARTNER_* events

	// phone_number_quality_update: TIER_50 ... TIER_UNLIMITED.
	CurrentLimit                     string `json:"current_limit,omitempty"`
	OldLimit                         string `json:"old_limit,omitempty"`
	MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business,omitempty"`

	// phone_number_name_update: APPROVED, DEFERRED, PENDING, REJECTED.
	Decision              string `json:"decision,omitempty"`
	RequestedVerifiedName string `json:"requested_verified_name,omitempty"`
	RejectionReason       string `json:"rejection_reason,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// Metadata names the business number a messages webhook is for.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// BanInfo is the ban state of a WABA: DISABLE, REINSTATE or
// SCHEDULE_FOR_DISABLE, and the date as Meta writes it ("April 17, 2025").
type BanInfo struct {
	WABABanState string `json:"waba_ban_state"`
	WABABanDate  string `json:"waba_ban_date"`
}

// ViolationInfo is the policy a WABA violated, e.g. "ADULT".
type ViolationInfo struct {
	ViolationType string `json:"violation_type"`
}

// Restriction is one restriction on a WABA and when it lifts.
type Restriction struct {
	RestrictionType string `json:"restriction_type"` // e.g. RESTRICTED_BIZ_INITIATED_MESSAGING
	Expiration      string `json:"expiration"`       // e.g. 2026-04-19T13:59:20+0000
}

// WABAInfo describes the WABA in partner events.
type WABAInfo struct {
	WABAID                     string   `json:"waba_id"`
	OwnerBusinessID            string   `json:"owner_business_id"`
	PartnerAppID               string   `json:"partner_app_id,omitempty"`
	AdAccountLinked            string   `json:"ad_account_linked,omitempty"`
	SolutionID                 string   `json:"solution_id,omitempty"`
	SolutionPartnerBusinessIDs []string `json:"solution_partner_business_ids,omitempty"`
}

// UnmarshalJSON decodes what it can and keeps the raw value.
func (v *ChangeValue) UnmarshalJSON(data []byte) error {
	type plain ChangeValue
	var p plain
	err := json.Unmarshal(data, &p)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return err
	}
	*v = ChangeValue(p)
	v.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// Timestamp is a Unix time in seconds that Meta may send as a number or as a
// numeric string.
type Timestamp int64

// UnmarshalJSON accepts 1743451903 and "1743451903"; anything else is 0.
func (t *Timestamp) UnmarshalJSON(data []byte) error {
	n, err := strconv.ParseInt(strings.Trim(string(data), `"`), 10, 64)
	if err != nil {
		n = 0
	}
	*t = Timestamp(n)
	return nil
}

// AccountUpdate is what one change reports about a WhatsApp Business
// Account or one of its numbers, in the words the tenant service records.
type AccountUpdate struct {
	WABAID        string // the entry's id
	PhoneNumberID string // when the change names a number (messages metadata)
	Field         string // the webhook field, e.g. account_update
	Event         string // e.g. DISABLED_UPDATE, FLAGGED, or the name decision
	QualityRating string // RED on FLAGGED, GREEN on UNFLAGGED
	Status        string // the messaging limit tier of a quality update
	BanState      string // DISABLE, REINSTATE, SCHEDULE_FOR_DISABLE
	DisplayName   string // an approved new verified name
}

// AccountUpdate returns the account change c reports in entry e, and false
// for a field that is no account change (messages and the others).
func (e Entry) AccountUpdate(c Change) (AccountUpdate, bool) {
	u := AccountUpdate{WABAID: e.ID, PhoneNumberID: c.PhoneNumberID(), Field: c.Field, Event: c.Value.Event}
	switch c.Field {
	case FieldAccountUpdate:
		if c.Value.BanInfo != nil {
			u.BanState = c.Value.BanInfo.WABABanState
		}
	case FieldPhoneNumberQualityUpdate:
		u.Status = c.Value.CurrentLimit
		switch c.Value.Event {
		case "FLAGGED":
			u.QualityRating = "RED"
		case "UNFLAGGED":
			u.QualityRating = "GREEN"
		}
	case FieldPhoneNumberNameUpdate:
		if c.Value.Decision == "APPROVED" {
			u.DisplayName = c.Value.RequestedVerifiedName
		}
		u.Event = c.Value.Decision
	default:
		return AccountUpdate{}, false
	}
	return u, true
}

// ParseNotification decodes a webhook body. Verify its signature first.
func ParseNotification(rawBody []byte) (*Notification, error) {
	var n Notification
	if err := json.Unmarshal(rawBody, &n); err != nil {
		return nil, fmt.Errorf("parse webhook: %w", err)
	}
	return &n, nil
}
