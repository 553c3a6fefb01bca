package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tenant-service/internal/testkit"
)

// scrape reads /metrics as Prometheus would.
func scrape(t testing.TB, a *testApp) map[string]*dto.MetricFamily {
	t.Helper()
	r := a.do("GET", "/metrics", "", "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value returns the value of the series of name whose labels include
// labels ("k=v" pairs), and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// /metrics counts commands by outcome, appended events by type, resolves
// by source, rate-limit refusals, projector lag in events and seconds, and
// gives the tenants METRICS_TENANTS names series of their own, and no
// others.
func TestMetrics(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	first := startApp(t, env)
	watched := first.createTenant("Watched")
	other := first.createTenant("Unwatched")
	env["METRICS_TENANTS"] = watched
	env["SERVICE_KEY_RATE_LIMIT"] = "1:1" // a refusal is cheap to cause
	a := startApp(t, env)

	a.do("PATCH", "/api/tenants/"+watched, adminKey, `{"name":"Watched again"}`)
	a.do("PATCH", "/api/tenants/"+other, adminKey, `{"name":"Unwatched again"}`)
	a.do("PATCH", "/api/tenants/"+other, adminKey, `{"name":"Unwatched again"}`) // unchanged
	a.do("POST", "/api/tenants/"+watched+"/whatsapp", adminKey, `{"wabaId":"770","phoneNumberId":"77001"}`)
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := a.do("GET", "/api/resolve/whatsapp/77001", adminKey, ""); r.status != 200 {
			return fmt.Errorf("resolve: %d", r.status)
		}
		return nil
	})
	for range 3 {
		a.do("GET", "/api/resolve/tenant/"+other, serviceKey, "") // past the key's burst: 429
	}
	a.do("BREW", "/api/tenants", adminKey, "") // a method no label should be made of

	testkit.Eventually(t, 10*time.Second, func() error {
		m := scrape(t, a)
		for _, c := range []struct {
			name   string
			labels []string
			min    float64
		}{
			{"tenant_service_commands_total", []string{"command=update", "outcome=applied"}, 2},
			{"tenant_service_commands_total", []string{"command=update", "outcome=unchanged"}, 1},
			{"tenant_service_commands_total", []string{"command=link_whatsapp", "outcome=applied"}, 1},
			{"tenant_service_command_duration_seconds", []string{"command=update"}, 3},
			{"tenant_service_events_appended_total", []string{"type=TenantUpdated"}, 2},
			{"tenant_service_events_appended_total", []string{"type=WABALinked"}, 1},
			{"tenant_service_group_commit_duration_seconds", nil, 3},
			{"tenant_service_group_commit_appends", nil, 3},
			{"tenant_service_tenant_commands_total", []string{"tenant=" + watched, "command=update", "outcome=applied"}, 1},
			{"tenant_service_rate_limit_refusals_total", []string{"scope=key"}, 1},
			{"tenant_service_resolves_total", []string{"source=postgres"}, 0},
			{"tenant_service_resolves_total", []string{"source=redis"}, 0},
			{"tenant_service_resolves_total", []string{"source=memory"}, 0},
			{"tenant_service_projector_lag_events", []string{"projector=relay.rabbitmq"}, 0},
			{"tenant_service_projector_lag_seconds", []string{"projector=relay.rabbitmq"}, 0},
			{"tenant_service_projector_lag_seconds", []string{"projector=redis.tenants"}, 0},
			{"tenant_service_http_request_duration_seconds", []string{"method=OTHER"}, 1},
		} {
			if v, ok := value(m, c.name, c.labels...); !ok || v < c.min {
				return fmt.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
			}
		}
		if v, ok := value(m, "tenant_service_tenant_commands_total", "tenant="+other); ok {
			return fmt.Errorf("a tenant METRICS_TENANTS does not name has series of its own (%v)", v)
		}
		if _, ok := value(m, "tenant_service_http_request_duration_seconds", "method=BREW"); ok {
			return fmt.Errorf("a label was made of the method a client sent")
		}
		return nil
	})
}

func TestMetricsTenantsIsChecked(t *testing.T) {
	for _, bad := range []string{"not-a-uuid", strings.Repeat("0b9d2c62-1f3e-4c56-9a7b-2d8e4f6a1c3b,", 101)} {
		env := map[string]string{"METRICS_TENANTS": bad}
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "METRICS_TENANTS") {
			t.Errorf("METRICS_TENANTS=%.40q: %v", bad, err)
		}
	}
}
