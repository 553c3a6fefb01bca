package metagraph_test

import (
	"encoding/json"
	"testing"

	"tenant-service/metagraph"
)

// The webhook parser never panics on any body, accepts every body Meta's
// documented shapes allow, and keeps each change's raw value.
func FuzzParseNotification(f *testing.F) {
	for _, s := range []string{
		`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1743451903,"changes":[{"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"April 17, 2026"}}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"messages":[{"from":"16505551234","id":"wamid.X","timestamp":"1749416383","type":"text","text":{"body":"hi"}}]}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"1","time":"1743451903","changes":[{"field":"phone_number_quality_update","value":{"display_phone_number":"15550100","event":"FLAGGED","current_limit":"TIER_1K"}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"phone_number_name_update","value":{"decision":"APPROVED","requested_verified_name":"Acme \u00dc","rejection_reason":null}}]}]}`,
		`{"object":"page","entry":[]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"account_update","value":{"event":7}}]}]}`,
		`{"entry":[{"changes":[{"value":null}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"id":"a\u0000b","changes":[{"field":"account_update","value":{"event":"\ud800"}}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := metagraph.ParseNotification(body)
		if err != nil {
			if json.Valid(body) && isObject(body) && n != nil {
				t.Fatalf("an error with a result for %q", body)
			}
			return
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				u, ok := e.AccountUpdate(c)
				if ok && (u.WABAID != e.ID || u.Field != c.Field) {
					t.Fatalf("account update %+v does not name its entry and field", u)
				}
				if len(c.Value.Raw) > 0 && !json.Valid(c.Value.Raw) {
					t.Fatalf("raw value %q is not the JSON it was parsed from", c.Value.Raw)
				}
			}
		}
	})
}

func isObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil
}
