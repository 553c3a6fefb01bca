// Package graphtest is a fake Meta Graph API for tests: an httptest server
// that answers the four calls of WhatsApp Embedded Signup (code exchange,
// debug_token, subscribed_apps, phone_numbers) in Graph's real shapes,
// including its error object with code, error_subcode, type and fbtrace_id.
//
// A test registers what Meta would know (codes and the business tokens they
// exchange for, the WABAs each token was granted, the phone numbers of each
// WABA), injects failures per endpoint (a refusal, an HTTP 500, a body that is
// not JSON, a slow answer) and reads call counters afterwards:
//
//	g := graphtest.NewServer(t, graphtest.Config{})
//	g.Onboard("code-1", "EAAtoken1", "102290129340398",
//		graphtest.PhoneNumber{ID: "106540352242922", DisplayPhoneNumber: "15550783881"})
//	g.Fail(graphtest.SubscribeApp, graphtest.SubscribeRefused())
//	client, _ := metagraph.NewClient(metagraph.Config{BaseURL: g.URL, AppID: g.AppID(), AppSecret: g.AppSecret()})
//	...
//	if g.Calls(graphtest.ExchangeCode) != 1 { ... }
//
// Like Meta, the fake accepts each code once, checks the client secret and the
// app token, and answers calls on WABAs a token was not granted with code 100,
// subcode 33.
package graphtest
