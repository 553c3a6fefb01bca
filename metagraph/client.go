package metagraph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultBaseURL  = "https://graph.facebook.com"
	DefaultVersion  = "v25.0"
	DefaultTimeout  = 10 * time.Second
	DefaultMaxPages = 5
)

// Config configures a Client.
type Config struct {
	// BaseURL is the Graph API root, without the version. Default
	// DefaultBaseURL; tests point it at a graphtest.Server.
	BaseURL string
	// Version is the Graph API version path segment, e.g. "v25.0". Default
	// DefaultVersion.
	Version string
	// AppID is the Meta app's id (META_APP_ID). Required.
	AppID string
	// AppSecret is the Meta app's secret (META_APP_SECRET). Required. It signs
	// the app token used for debug_token and is never logged.
	AppSecret string
	// Timeout bounds each Graph request, including reading the answer.
	// Default DefaultTimeout (10 s).
	Timeout time.Duration
	// HTTPClient sends the requests. Default: a client that does not follow
	// redirects. Its own Timeout, if any, applies as well.
	HTTPClient *http.Client
	// MaxPages bounds how many pages PhoneNumbers reads. Default
	// DefaultMaxPages (5).
	MaxPages int
}

func (c *Config) setDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
}

// Validate reports every problem with the configuration, after defaults.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("metagraph: base URL must be an absolute http(s) URL"))
	}
	if !strings.HasPrefix(c.Version, "v") || strings.Contains(c.Version, "/") {
		errs = append(errs, fmt.Errorf("metagraph: version %q must look like v25.0", c.Version))
	}
	if c.AppID == "" {
		errs = append(errs, errors.New("metagraph: app id is required"))
	}
	if c.AppSecret == "" {
		errs = append(errs, errors.New("metagraph: app secret is required"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("metagraph: timeout must not be negative"))
	}
	if c.MaxPages < 0 {
		errs = append(errs, errors.New("metagraph: max pages must not be negative"))
	}
	return errors.Join(errs...)
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	base      string // BaseURL + "/" + Version, no trailing slash
	appID     string
	appSecret string
	timeout   time.Duration
	maxPages  int
	http      *http.Client
}

// NewClient returns a Client for the configuration.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// Graph answers these calls directly; a redirect would only carry
		// the bearer token somewhere else.
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/") + "/" + cfg.Version,
		appID:     cfg.AppID,
		appSecret: cfg.AppSecret,
		timeout:   cfg.Timeout,
		maxPages:  cfg.MaxPages,
		http:      hc,
	}, nil
}

// appToken is the app access token form APP_ID|APP_SECRET.
func (c *Client) appToken() string { return c.appID + "|" + c.appSecret }

// ErrInvalidArgument reports an empty code or token, or an id that is not a
// Graph id, before anything is sent to Meta.
var ErrInvalidArgument = errors.New("metagraph: invalid argument")

// checkID accepts Graph object ids: 1 to 32 decimal digits. Ids go into URL
// paths, so anything else is refused rather than escaped.
func checkID(what, id string) error {
	ok := id != "" && len(id) <= 32
	for _, r := range id {
		ok = ok && r >= '0' && r <= '9'
	}
	if !ok {
		return fmt.Errorf("%w: %s must be 1 to 32 digits", ErrInvalidArgument, what)
	}
	return nil
}
