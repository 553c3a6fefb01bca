package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tenant-service/genesys/genesystest"
	"tenant-service/internal/testkit"
)

const (
	dashboardFile = "../../deploy/grafana/tenant-service.json"
	alertsFile    = "../../deploy/prometheus/alerts.yml"
)

// promtool finds Prometheus' rule checker: on PATH, or where `make tools`
// unpacks it.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	p, _ := filepath.Abs("../../.tools/bin/promtool")
	if _, err := os.Stat(p); err != nil {
		t.Fatal("the alert rules are checked with promtool: run `make tools` (it unpacks Debian's prometheus package into .tools/bin)")
	}
	return p
}

// The alert rules load in Prometheus' own checker.
func TestAlertRulesLoad(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "check", "rules", alertsFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// grafanaDashboard is the part of Grafana's dashboard model the test reads.
type grafanaDashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// The dashboard is a Grafana dashboard (title, uid, its variables, panels
// with unique ids inside the 24-column grid, each graph with queries), and
// every metric it and the alert rules query is one the service exposes.
func TestDashboardAndAlertsUseTheServicesMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels: %q %q %d", d.Title, d.UID, len(d.Panels))
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	queries := []string{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q outside the grid: %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, q := range p.Targets {
			for _, v := range regexp.MustCompile(`\$(\w+)`).FindAllStringSubmatch(q.Expr, -1) {
				if !strings.HasPrefix(v[1], "__") && !slices.Contains(vars, v[1]) {
					t.Errorf("panel %q uses $%s, which the dashboard does not define", p.Title, v[1])
				}
			}
			queries = append(queries, q.Expr)
		}
	}
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	queries = append(queries, string(rules))

	// Exercise the service so that every family has series (a Genesys
	// token fetched from a fake login included), then scrape.
	login := genesystest.NewServer(t, genesystest.Config{})
	login.AddClient(genesystest.ClientID, genesystest.ClientSecret)
	env := testEnv(t)
	env["GENESYS_LOGIN_URL"] = login.URL
	watched := "0b9d2c62-1f3e-4c56-9a7b-2d8e4f6a1c3b"
	env["METRICS_TENANTS"] = watched
	a := startApp(t, env)
	a.do("PATCH", "/api/tenants/"+watched, adminKey, `{"name":"Nobody"}`) // a watched tenant's command: not found
	id := a.createTenant("Dashboard")
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"880","phoneNumberId":"88001"}`)
	a.do("GET", "/api/resolve/whatsapp/88001", serviceKey, "")
	a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey, fmt.Sprintf(`{"clientId":%q,"clientSecret":%q,"region":%q}`,
		genesystest.ClientID, genesystest.ClientSecret, genesystest.Region))
	if r := a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, ""); r.status != 200 {
		t.Fatalf("genesys token: %d %s", r.status, r.body)
	}
	var exposed map[string]bool
	testkit.Eventually(t, 15*time.Second, func() error {
		exposed = map[string]bool{}
		for name := range scrape(t, a) {
			exposed[name] = true
		}
		if !exposed["tenant_service_relay_confirmed_total"] || !exposed["tenant_service_projector_lag_seconds"] {
			return fmt.Errorf("relay and projector metrics not exposed yet")
		}
		return nil
	})
	// Histograms are queried by their series (_bucket, _count, _sum).
	histogramSeries := regexp.MustCompile(`_(bucket|count|sum)$`)
	for _, q := range queries {
		for _, name := range regexp.MustCompile(`\b((?:tenant_service|process|go)_[a-z0-9_]+)`).FindAllString(q, -1) {
			family := histogramSeries.ReplaceAllString(name, "")
			if !exposed[name] && !exposed[family] {
				t.Errorf("%s is queried but /metrics has no %s", name, family)
			}
		}
	}
}
