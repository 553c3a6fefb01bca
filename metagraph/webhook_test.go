package metagraph_test

import (
	"encoding/json"
	"strings"
	"testing"

	"tenant-service/metagraph"
)

func TestParseAccountUpdate(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[
	 {"id":"102290129340398","time":1743451903,"changes":[
	  {"value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"SCHEDULE_FOR_DISABLE","waba_ban_date":"April 17, 2025"}},"field":"account_update"},
	  {"value":{"event":"ACCOUNT_VIOLATION","violation_info":{"violation_type":"ADULT"}},"field":"account_update"},
	  {"value":{"event":"ACCOUNT_RESTRICTION","restriction_info":[{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":"2026-04-19T13:59:20+0000"}]},"field":"account_update"},
	  {"value":{"phone_number":"15550783881","event":"VERIFIED_ACCOUNT"},"field":"account_update"}]},
	 {"id":"2949482758682047","time":"1748477359","changes":[
	  {"value":{"event":"PARTNER_APP_UNINSTALLED","waba_info":{"waba_id":"184943124712545","owner_business_id":"1284923862322270","partner_app_id":"869361281603019"}},"field":"account_update"}]}]}`)
	n, err := metagraph.ParseNotification(body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if n.Object != metagraph.ObjectWhatsAppBusinessAccount || len(n.Entry) != 2 || len(n.Entry[0].Changes) != 4 {
		t.Fatalf("shape: %+v", n)
	}
	e := n.Entry[0]
	if e.ID != "102290129340398" || e.Time != 1743451903 || n.Entry[1].Time != 1748477359 {
		t.Errorf("entry ids/times: %s %d %d", e.ID, e.Time, n.Entry[1].Time)
	}
	c := e.Changes[0]
	if c.Field != metagraph.FieldAccountUpdate || c.Value.Event != "DISABLED_UPDATE" || c.PhoneNumberID() != "" {
		t.Errorf("change 0: %+v", c)
	}
	if c.Value.BanInfo == nil || c.Value.BanInfo.WABABanState != "SCHEDULE_FOR_DISABLE" || c.Value.BanInfo.WABABanDate != "April 17, 2025" {
		t.Errorf("ban info: %+v", c.Value.BanInfo)
	}
	if v := e.Changes[1].Value.ViolationInfo; v == nil || v.ViolationType != "ADULT" {
		t.Errorf("violation: %+v", v)
	}
	if r := e.Changes[2].Value.RestrictionInfo; len(r) != 1 || r[0].RestrictionType != "RESTRICTED_BIZ_INITIATED_MESSAGING" {
		t.Errorf("restrictions: %+v", r)
	}
	if v := e.Changes[3].Value; v.PhoneNumber != "15550783881" || v.Event != "VERIFIED_ACCOUNT" {
		t.Errorf("verified account: %+v", v)
	}
	if w := n.Entry[1].Changes[0].Value.WABAInfo; w == nil || w.WABAID != "184943124712545" || w.PartnerAppID != "869361281603019" {
		t.Errorf("waba info: %+v", w)
	}
	if !json.Valid(c.Value.Raw) || !strings.Contains(string(c.Value.Raw), "waba_ban_state") {
		t.Errorf("raw value: %s", c.Value.Raw)
	}
}

func TestParseQualityAndNameUpdates(t *testing.T) {
	n, err := metagraph.ParseNotification(escapedBody)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	v := n.Entry[0].Changes[0].Value
	if n.Entry[0].Changes[0].Field != metagraph.FieldPhoneNumberNameUpdate || v.Decision != "APPROVED" ||
		v.RequestedVerifiedName != "Käse öl å" || v.DisplayPhoneNumber != "15550783881" {
		t.Errorf("name update: %+v", v)
	}

	n, err = metagraph.ParseNotification([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1748454394,
	 "changes":[{"value":{"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_10K","old_limit":"TIER_100K",
	  "max_daily_conversations_per_business":"TIER_2K"},"field":"phone_number_quality_update"}]}]}`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	v = n.Entry[0].Changes[0].Value
	if n.Entry[0].Changes[0].Field != metagraph.FieldPhoneNumberQualityUpdate || v.Event != "FLAGGED" ||
		v.CurrentLimit != "TIER_10K" || v.OldLimit != "TIER_100K" || v.MaxDailyConversationsPerBusiness != "TIER_2K" {
		t.Errorf("quality update: %+v", v)
	}
}

func TestParseMessagesMetadata(t *testing.T) {
	n, err := metagraph.ParseNotification([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"8856996819413533","changes":[{"field":"messages",
	 "value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
	  "contacts":[{"profile":{"name":"Kerry"},"wa_id":"16315551181"}],
	  "messages":[{"from":"16315551181","id":"wamid.ABC","timestamp":"1504902988","type":"text","text":{"body":"hi"}}]}}]}]}`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	c := n.Entry[0].Changes[0]
	if c.Field != metagraph.FieldMessages || c.PhoneNumberID() != "106540352242922" || c.Value.MessagingProduct != "whatsapp" {
		t.Errorf("messages change: %+v", c)
	}
	if !strings.Contains(string(c.Value.Raw), "wamid.ABC") {
		t.Errorf("raw lost the messages: %s", c.Value.Raw)
	}
}

func TestParseToleratesUnexpectedTypes(t *testing.T) {
	n, err := metagraph.ParseNotification([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"phone_number_quality_update",
	 "value":{"display_phone_number":"15550783881","event":"UPGRADE","current_limit":100000}}]}]}`))
	if err != nil {
		t.Fatalf("a value field of another type failed the parse: %v", err)
	}
	v := n.Entry[0].Changes[0].Value
	if v.Event != "UPGRADE" || v.DisplayPhoneNumber != "15550783881" || v.CurrentLimit != "" {
		t.Errorf("value: %+v", v)
	}
	for _, bad := range []string{`{"entry":[`, `[]`, `{"entry":"x"}`} {
		if _, err := metagraph.ParseNotification([]byte(bad)); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}
