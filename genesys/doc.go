// Package genesys speaks to Genesys Cloud's login service: Client.FetchToken
// is one POST to https://login.{region}/oauth/token with Basic auth and the
// client credentials grant. Credentials, Token and Error are the types the
// rest of the service uses to ask for and talk about a tenant's token; the
// package has no storage of its own.
//
// Secrets (client secret, access tokens) never appear in errors or logs.
// The subpackage tokencache caches tokens in Redis in front of a Client, and
// genesystest is a fake login server for tests.
package genesys
