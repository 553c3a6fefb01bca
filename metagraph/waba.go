package metagraph

import (
	"context"
	"fmt"
	"net/url"
)

// SubscribeApp subscribes the app to the WhatsApp Business Account's webhooks:
// POST /{v}/{waba}/subscribed_apps with the business token. Meta answers
// {"success":true}; anything else is an *Error.
func (c *Client) SubscribeApp(ctx context.Context, wabaID, token string) error {
	if err := checkID("WABA id", wabaID); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("subscribe app: %w: empty token", ErrInvalidArgument)
	}
	var out struct {
		Success bool `json:"success"`
	}
	err := c.do(ctx, request{
		step: StepSubscribeApp, method: "POST", path: "/" + wabaID + "/subscribed_apps",
		bearer: token, secrets: []string{token},
	}, &out)
	if err != nil {
		return err
	}
	if !out.Success {
		return &Error{Step: StepSubscribeApp, HTTPStatus: 200,
			Message: "the Meta Graph API did not confirm the subscription"}
	}
	return nil
}

// PhoneNumber is one phone number of a WhatsApp Business Account.
type PhoneNumber struct {
	ID                     string `json:"id"`
	DisplayPhoneNumber     string `json:"display_phone_number"`
	VerifiedName           string `json:"verified_name"`
	QualityRating          string `json:"quality_rating"`           // GREEN, YELLOW, RED, UNKNOWN
	CodeVerificationStatus string `json:"code_verification_status"` // VERIFIED, NOT_VERIFIED, EXPIRED...
}

// phoneNumberFields are the fields PhoneNumbers asks for.
const phoneNumberFields = "id,display_phone_number,verified_name,quality_rating,code_verification_status"

// PhoneNumbers lists the account's phone numbers, newest onboarded first:
// GET /{v}/{waba}/phone_numbers with the business token. It follows the
// paging cursor (never the "next" URL itself) for at most Config.MaxPages
// pages and returns what it read; a WABA rarely has more than one page.
func (c *Client) PhoneNumbers(ctx context.Context, wabaID, token string) ([]PhoneNumber, error) {
	if err := checkID("WABA id", wabaID); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("phone numbers: %w: empty token", ErrInvalidArgument)
	}
	var all []PhoneNumber
	after := ""
	for page := 0; page < c.maxPages; page++ {
		q := url.Values{"fields": {phoneNumberFields}}
		if after != "" {
			q.Set("after", after)
		}
		var out struct {
			Data   []PhoneNumber `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		err := c.do(ctx, request{
			step: StepPhoneNumbers, method: "GET", path: "/" + wabaID + "/phone_numbers",
			query: q, bearer: token, secrets: []string{token},
		}, &out)
		if err != nil {
			return nil, err
		}
		all = append(all, out.Data...)
		// Graph sends "next" only when another page exists; the cursor can
		// be present on the last page too.
		if out.Paging.Next == "" || out.Paging.Cursors.After == "" || len(out.Data) == 0 {
			break
		}
		after = out.Paging.Cursors.After
	}
	return all, nil
}
