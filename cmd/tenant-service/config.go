package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tenant-service/domain"
	"tenant-service/messaging"
	"tenant-service/projections"
	"tenant-service/ratelimit"
)

// Config is the service's configuration, read once from the environment
// (PRODUCT.md's table). A .env file in the working directory is read first;
// variables already set win.
type Config struct {
	Port        int    // PORT, default 3007
	Env         string // APP_ENV (alias NODE_ENV): development (default) or production
	DatabaseURL string // DATABASE_URL, else built from DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD
	RedisURL    string // REDIS_URL, default redis://localhost:6379
	AMQPURL     string // AMQP_URL, default amqp://guest:guest@localhost:5672/
	// AMQPExchange is the topic exchange events are published on
	// (AMQP_EXCHANGE, default tenant.events); only tests and side-by-side
	// deployments on one broker set it.
	AMQPExchange string

	MetaAppID              string        // META_APP_ID
	MetaAppSecret          string        // META_APP_SECRET
	MetaSignupConfigID     string        // META_SIGNUP_CONFIG_ID: the console's Embedded Signup configuration
	MetaGraphURL           string        // META_GRAPH_URL, default https://graph.facebook.com
	MetaGraphVersion       string        // META_GRAPH_VERSION, default v25.0
	MetaWebhookVerifyToken string        // META_WEBHOOK_VERIFY_TOKEN
	MetaGraphTimeout       time.Duration // META_GRAPH_TIMEOUT: per Graph call, default 10s
	GenesysLoginURL        string        // GENESYS_LOGIN_URL: overrides https://login.{region}

	EncryptionKeys      string // ENCRYPTION_KEYS: id:base64(32 bytes), comma-separated
	EncryptionActiveKey string // ENCRYPTION_ACTIVE_KEY, default the first key
	RedisKeyPrefix      string // REDIS_KEY_PREFIX, default empty
	APIKeys             string // API_KEYS: role:key, comma-separated

	DevDir string // DEV_STATE_DIR: where development keys are kept, default .dev-keys

	// LogLevel (LOG_LEVEL: debug, info, warn or error; default info) and
	// LogFormat (LOG_FORMAT: json or text; default json) shape the logs.
	LogLevel  slog.Level
	LogFormat string

	// MetricsTenants (METRICS_TENANTS: tenant ids, comma-separated, at most
	// 100) are the tenants that get series of their own in /metrics.
	MetricsTenants []domain.TenantID

	// DebugAddr (DEBUG_ADDR, e.g. 127.0.0.1:6060) serves Go's profiler on a
	// listener of its own; empty (the default) serves nothing.
	DebugAddr string

	// CheckpointSigningKey (CHECKPOINT_SIGNING_KEY: base64 of a 32-byte
	// Ed25519 seed) signs `events checkpoint`; CheckpointPublicKey
	// (CHECKPOINT_PUBLIC_KEY: base64 of the 32-byte public key) is the key an
	// auditor trusts when `events verify --checkpoint` checks one. Both
	// optional; `keys generate-signing` prints a pair.
	CheckpointSigningKey, CheckpointPublicKey string

	// KeyRateLimit (API_KEY_RATE_LIMIT, "perSecond:burst", default 100:200)
	// limits each admin or auditor API key; ServiceKeyRateLimit
	// (SERVICE_KEY_RATE_LIMIT, default 20000:40000) each service key.
	KeyRateLimit, ServiceKeyRateLimit ratelimit.Limit
	// RateLimitTimeout (RATE_LIMIT_TIMEOUT, default 50ms) bounds each rate
	// limit check's call to Redis; a check that takes longer lets its
	// request through unchecked, as when Redis is down.
	RateLimitTimeout time.Duration

	// ResolveCacheEntries (RESOLVE_CACHE_ENTRIES, default 50000) bounds the
	// resolve lookups each replica keeps in memory; 0 turns the memory off
	// (every resolve asks Redis, then PostgreSQL).
	ResolveCacheEntries int

	// Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, unless OTEL_SDK_DISABLED is
	// true or OTEL_TRACES_EXPORTER is none: spans are exported over OTLP.
	// The OpenTelemetry SDK reads its other variables (headers, timeout,
	// compression, certificates, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES,
	// OTEL_BSP_*) from the process environment itself. Default off: nothing
	// is traced, and nothing runs for it.
	Tracing bool
	// OTLPProtocol (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
	// OTEL_EXPORTER_OTLP_PROTOCOL) is http/protobuf (the default) or grpc.
	OTLPProtocol string
	// ServiceName (OTEL_SERVICE_NAME) names the service in traces; empty
	// means service.name from OTEL_RESOURCE_ATTRIBUTES, else tenant-service.
	ServiceName string
}

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.Env == "production" }

// loadConfig reads the configuration from getenv.
func loadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Env:                    get("APP_ENV", get("NODE_ENV", "development")),
		DatabaseURL:            get("DATABASE_URL", ""),
		RedisURL:               get("REDIS_URL", "redis://localhost:6379"),
		AMQPURL:                get("AMQP_URL", "amqp://guest:guest@localhost:5672/"),
		AMQPExchange:           get("AMQP_EXCHANGE", messaging.DefaultExchange),
		MetaAppID:              get("META_APP_ID", ""),
		MetaAppSecret:          get("META_APP_SECRET", ""),
		MetaSignupConfigID:     get("META_SIGNUP_CONFIG_ID", ""),
		MetaGraphURL:           strings.TrimRight(get("META_GRAPH_URL", "https://graph.facebook.com"), "/"),
		MetaGraphVersion:       get("META_GRAPH_VERSION", "v25.0"),
		MetaWebhookVerifyToken: get("META_WEBHOOK_VERIFY_TOKEN", ""),
		GenesysLoginURL:        strings.TrimRight(get("GENESYS_LOGIN_URL", ""), "/"),
		EncryptionKeys:         get("ENCRYPTION_KEYS", ""),
		EncryptionActiveKey:    get("ENCRYPTION_ACTIVE_KEY", ""),
		RedisKeyPrefix:         getenv("REDIS_KEY_PREFIX"),
		APIKeys:                get("API_KEYS", ""),
		DevDir:                 get("DEV_STATE_DIR", ".dev-keys"),
		DebugAddr:              get("DEBUG_ADDR", ""),
		CheckpointSigningKey:   get("CHECKPOINT_SIGNING_KEY", ""),
		CheckpointPublicKey:    get("CHECKPOINT_PUBLIC_KEY", ""),
	}
	var errs []error
	for _, l := range []struct {
		name, def string
		dst       *ratelimit.Limit
	}{{"API_KEY_RATE_LIMIT", "100:200", &c.KeyRateLimit}, {"SERVICE_KEY_RATE_LIMIT", "20000:40000", &c.ServiceKeyRateLimit}} {
		lim, err := parseLimit(get(l.name, l.def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be perSecond:burst such as %s: %v", l.name, l.def, err))
		}
		*l.dst = lim
	}
	for _, d := range []struct {
		name, def string
		dst       *time.Duration
	}{{"META_GRAPH_TIMEOUT", "10s", &c.MetaGraphTimeout}, {"RATE_LIMIT_TIMEOUT", ratelimit.DefaultTimeout.String(), &c.RateLimitTimeout}} {
		v, err := time.ParseDuration(get(d.name, d.def))
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a duration such as %s, not %q", d.name, d.def, getenv(d.name)))
		}
		*d.dst = v
	}
	entries, err := strconv.Atoi(get("RESOLVE_CACHE_ENTRIES", strconv.Itoa(projections.DefaultMemoryEntries)))
	if err != nil || entries < 0 {
		errs = append(errs, fmt.Errorf("RESOLVE_CACHE_ENTRIES must be a whole number, 0 to turn the memory off, not %q", getenv("RESOLVE_CACHE_ENTRIES")))
	}
	c.ResolveCacheEntries = entries
	errs = append(errs, c.loadTracing(get))
	port, err := strconv.Atoi(get("PORT", "3007"))
	if err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a port number, not %q", getenv("PORT")))
	}
	c.Port = port
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", getenv("LOG_LEVEL")))
	}
	if c.LogFormat = strings.ToLower(get("LOG_FORMAT", "json")); c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be json or text, not %q", getenv("LOG_FORMAT")))
	}
	if c.MetricsTenants, err = parseTenantList(get("METRICS_TENANTS", "")); err != nil {
		errs = append(errs, fmt.Errorf("METRICS_TENANTS %v", err))
	}
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env))
	}
	if c.DatabaseURL == "" {
		u := url.URL{Scheme: "postgres", Host: get("DB_HOST", "localhost") + ":" + get("DB_PORT", "5432"),
			Path: "/" + get("DB_NAME", "whatsapp_genesys")}
		if pw := getenv("DB_PASSWORD"); pw != "" {
			u.User = url.UserPassword(get("DB_USER", "postgres"), pw)
		} else {
			u.User = url.User(get("DB_USER", "postgres"))
		}
		q := url.Values{}
		q.Set("sslmode", get("DB_SSLMODE", "prefer"))
		u.RawQuery = q.Encode()
		c.DatabaseURL = u.String()
	}
	for name, v := range map[string]string{"REDIS_URL": c.RedisURL, "AMQP_URL": c.AMQPURL, "META_GRAPH_URL": c.MetaGraphURL} {
		if _, err := url.Parse(v); err != nil {
			errs = append(errs, fmt.Errorf("%s is not a URL", name))
		}
	}
	if c.Production() {
		if c.EncryptionKeys == "" {
			errs = append(errs, errors.New("ENCRYPTION_KEYS is required in production"))
		}
		if c.APIKeys == "" {
			errs = append(errs, errors.New("API_KEYS is required in production"))
		}
	}
	return c, errors.Join(errs...)
}

// loadTracing reads the OTEL_* variables that decide whether and how the
// service exports spans.
func (c *Config) loadTracing(get func(name, def string) string) error {
	c.Tracing = (get("OTEL_EXPORTER_OTLP_ENDPOINT", "") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") != "") &&
		!strings.EqualFold(get("OTEL_SDK_DISABLED", "false"), "true")
	c.OTLPProtocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
	c.ServiceName = get("OTEL_SERVICE_NAME", "")
	var errs []error
	switch exp := get("OTEL_TRACES_EXPORTER", "otlp"); exp {
	case "otlp":
	case "none":
		c.Tracing = false
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER must be otlp or none, not %q", exp))
	}
	if c.Tracing && c.OTLPProtocol != "http/protobuf" && c.OTLPProtocol != "grpc" {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, not %q", c.OTLPProtocol))
	}
	return errors.Join(errs...)
}

// parseLimit reads "perSecond:burst".
func parseLimit(s string) (ratelimit.Limit, error) {
	ps, b, ok := strings.Cut(s, ":")
	perSecond, err1 := strconv.Atoi(ps)
	burst, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || perSecond < 1 || burst < 1 {
		return ratelimit.Limit{}, errors.New("two whole numbers of at least 1")
	}
	return ratelimit.Limit{PerSecond: perSecond, Burst: burst}, nil
}
