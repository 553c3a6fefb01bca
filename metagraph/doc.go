// Package metagraph is a small client for the parts of Meta's Graph API that
// WhatsApp Embedded Signup needs: exchanging the signup code for a business
// token, checking what the token was granted (debug_token), subscribing the
// app to a WhatsApp Business Account's webhooks and listing its phone numbers.
// It also verifies and parses the webhooks Meta sends for those accounts.
//
// Every failure of a Graph call, whether Meta refused it or no answer came, is
// a *Error that names the step and carries Meta's message, code and
// fbtrace_id, so a handler can map all of them to one 502 response. Tokens,
// codes and the app secret travel in query strings and headers; they never
// appear in an error string: URLs in transport errors lose their query string
// and known secrets are scrubbed from every message.
//
// The package uses only the standard library. Its sibling graphtest is a fake
// Graph server for tests.
package metagraph
