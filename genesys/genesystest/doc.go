// Package genesystest is a fake Genesys Cloud login server for tests: POST
// /oauth/token with the client credentials grant, checked like Genesys does
// (Basic auth, form content type, grant_type=client_credentials), answering
// {"access_token","token_type":"bearer","expires_in"} or Genesys' OAuth error
// body {"error","description","error_description"} with 400 or 401. It counts
// calls, can hold answers back, and can fail on demand:
//
//	fake := genesystest.NewServer(t, genesystest.Config{})
//	fake.AddClient("client-id", "client-secret")
//	client, _ := genesys.NewClient(genesys.ClientConfig{LoginURL: fake.URL})
//	...
//	if fake.Calls() != 1 { ... }
package genesystest
