package genesys

// Credentials are a tenant's Genesys OAuth client, as the service stores them.
type Credentials struct {
	TenantID     string
	Region       string // a Genesys Cloud region domain, e.g. "mypurecloud.de"
	ClientID     string
	ClientSecret string
	// Version changes whenever the credentials change, e.g. the stream
	// version of the last GenesysCredentialsSet or CredentialsRotated event.
	Version string
}
