package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tenant-service/genesys/genesystest"
	"tenant-service/internal/testkit"
	"tenant-service/metagraph/graphtest"
)

// tracedEnv is testEnv exporting spans to an in-process OTLP/HTTP receiver.
func tracedEnv(t *testing.T) (map[string]string, *otlpReceiver) {
	t.Helper()
	receiver := newOTLPReceiver(t)
	return otelEnv(t, testEnv(t), receiver.URL, "http/protobuf"), receiver
}

// otelEnv adds the OTLP settings to env. The OpenTelemetry SDK reads the
// OTEL_* variables from the process environment, so they are set there
// too: a test using it cannot run in parallel.
func otelEnv(t testing.TB, env map[string]string, endpoint, protocol string) map[string]string {
	t.Helper()
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
		"OTEL_BSP_SCHEDULE_DELAY":     "50", // ms: export soon after a span ends
		// Whatever the shell running the tests says.
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "",
		"OTEL_TRACES_SAMPLER": "parentbased_always_on", "OTEL_SERVICE_NAME": "",
	} {
		env[k] = v
		t.Setenv(k, v)
	}
	return env
}

// spanTree is the exported spans of one trace, by span id.
type spanTree map[string]receivedSpan

func treeOf(spans []receivedSpan, traceID string) spanTree {
	tree := spanTree{}
	for _, s := range spans {
		if s.traceID == traceID {
			tree[s.spanID] = s
		}
	}
	return tree
}

// find returns the spans of the tree that match.
func (tr spanTree) find(match func(receivedSpan) bool) []receivedSpan {
	var out []receivedSpan
	for _, s := range tr {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// descends reports whether s is under the span ancestor, through parents
// that are all in the tree.
func (tr spanTree) descends(s receivedSpan, ancestor string) bool {
	for i := 0; i < len(tr) && s.parentID != ""; i++ {
		if s.parentID == ancestor {
			return true
		}
		p, ok := tr[s.parentID]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

func named(name string) func(receivedSpan) bool {
	return func(s receivedSpan) bool { return s.name == name }
}

// One trace shows a create from the caller's request to its publishing: the
// server span continues the caller's traceparent, the commit's SQL is under
// it, and the relay's publish span, which ran after the request ended, is
// its child and travels as the message's traceparent.
func TestTracingFollowsACreateToItsPublishing(t *testing.T) {
	env, receiver := tracedEnv(t)
	tap := bindTap(t, env)
	a := startApp(t, env)

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := a.do("POST", "/api/tenants", adminKey, `{"name":"Traced"}`, "traceparent: 00-"+callerTrace+"-"+callerSpan+"-01")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["tenantId"].(string)

	var header, eventID string
	testkit.Eventually(t, 30*time.Second, func() error {
		for _, d := range tap.deliveries() {
			if d.Headers["tenant_id"] == id {
				header, _ = d.Headers["traceparent"].(string)
				eventID = d.MessageId
				return nil
			}
		}
		return errorf("the TenantCreated of %s is not published yet", id)
	})

	var tree spanTree
	var server, publish receivedSpan
	testkit.Eventually(t, 30*time.Second, func() error {
		tree = treeOf(receiver.received(), callerTrace)
		servers := tree.find(named("POST /api/tenants"))
		publishes := tree.find(func(s receivedSpan) bool { return s.attrs["messaging.message.id"] == eventID })
		if len(servers) != 1 || len(publishes) != 1 {
			return errorf("trace %s: %d server and %d publish spans of %d exported", callerTrace, len(servers), len(publishes), len(receiver.received()))
		}
		server, publish = servers[0], publishes[0]
		return nil
	})

	// The request: a server span continuing the caller's, naming the route.
	if server.parentID != callerSpan || server.kind != "SPAN_KIND_SERVER" || server.service != "tenant-service" {
		t.Errorf("server span: parent %s, kind %s, service %q", server.parentID, server.kind, server.service)
	}
	if server.attrs["http.route"] != "/api/tenants" || server.attrs["http.response.status_code"] != "201" || server.attrs["tenant.id"] != id {
		t.Errorf("server span attributes %v", server.attrs)
	}
	// The command's append and its group's commit, with the commit's SQL under them.
	appends := tree.find(named("eventstore.append"))
	if len(appends) != 1 || appends[0].parentID != server.spanID || appends[0].attrs["tenant.id"] != id {
		t.Fatalf("append spans %+v, want one under the server span naming tenant %s", appends, id)
	}
	commits := tree.find(named("eventstore.commit"))
	if len(commits) != 1 || commits[0].parentID != appends[0].spanID {
		t.Fatalf("commit spans %+v, want one under the append", commits)
	}
	sql := tree.find(func(s receivedSpan) bool { return strings.Contains(s.attrs["db.query.text"], "es_append_events") })
	if len(sql) != 1 || !tree.descends(sql[0], commits[0].spanID) || sql[0].attrs["tenant.id"] != id {
		t.Fatalf("es_append_events spans %+v, want one under the commit, labelled with the tenant", sql)
	}
	// The publish, by the relay after the request: a producer span under the request's.
	if publish.parentID != server.spanID || publish.kind != "SPAN_KIND_PRODUCER" || publish.attrs["tenant.id"] != id ||
		publish.attrs["messaging.rabbitmq.destination.routing_key"] != "tenant.tenant_created" {
		t.Errorf("publish span: parent %s (server %s), kind %s, attributes %v", publish.parentID, server.spanID, publish.kind, publish.attrs)
	}
	if want := "00-" + callerTrace + "-" + publish.spanID + "-01"; header != want {
		t.Errorf("the message's traceparent is %q, want the publish span's %q", header, want)
	}
}

// Secrets never reach a span: not the WhatsApp access token a link stores,
// not what Embedded Signup sends Meta in URL queries (the code, the app
// secret, the token), not the Genesys client secret or the token it
// answers, not the API key. The Graph and Genesys calls are spans of their
// own, named without ids or queries.
func TestTracingKeepsSecretsOutOfSpans(t *testing.T) {
	env, receiver := tracedEnv(t)
	graph := graphtest.NewServer(t, graphtest.Config{AppSecret: "graph-app-secret-Hq7Zk2Wm"})
	login := genesystest.NewServer(t, genesystest.Config{ExpiresIn: 3600})
	env["META_APP_ID"], env["META_APP_SECRET"], env["META_GRAPH_URL"] = graph.AppID(), graph.AppSecret(), graph.URL
	env["GENESYS_LOGIN_URL"] = login.URL
	a := startApp(t, env)
	id := a.createTenant("Secretive")

	const linkToken = "EAAlink-token-Vx93Lq7Rt2Pw"
	r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey,
		`{"wabaId":"7001","phoneNumberId":"8001","accessToken":"`+linkToken+`"}`)
	if r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if tok := a.do("GET", "/api/tenants/"+id+"/whatsapp/token", serviceKey, ""); tok.status != 200 || tok.json(t)["accessToken"] != linkToken {
		t.Fatalf("whatsapp token: %d %s", tok.status, tok.body)
	}

	const code, signupToken = "signup-code-Jm4Pq8Xs", "EAAsignup-token-Ct6Yh1Nb"
	graph.Onboard(code, signupToken, "7002", graphtest.PhoneNumber{ID: "8002", DisplayPhoneNumber: "+1 555 0102"})
	other := a.createTenant("Signed up")
	if r := a.do("POST", "/api/whatsapp/signup", adminKey, `{"tenantId":"`+other+`","code":"`+code+`","wabaId":"7002"}`); r.status != 200 {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}

	const clientSecret = "genesys-client-secret-Wd5Kr9Tz"
	login.AddClient("client-7", clientSecret)
	if r := a.do("PUT", "/api/tenants/"+id+"/genesys/credentials", adminKey, credentialsBody("client-7", clientSecret, "mypurecloud.de")); r.status != 200 {
		t.Fatalf("credentials: %d %s", r.status, r.body)
	}
	tok := a.do("GET", "/api/tenants/"+id+"/genesys/token", serviceKey, "")
	if tok.status != 200 {
		t.Fatalf("genesys token: %d %s", tok.status, tok.body)
	}
	genesysToken := tok.json(t)["accessToken"].(string)

	var spans []receivedSpan
	testkit.Eventually(t, 30*time.Second, func() error {
		spans = receiver.received()
		var graphCalls, loginCalls int
		for _, s := range spans {
			switch {
			case s.kind == "SPAN_KIND_CLIENT" && strings.HasPrefix(s.name, "GET /v25.0/"):
				graphCalls++
			case s.name == "POST /oauth/token":
				loginCalls++
			}
		}
		if graphCalls < 3 || loginCalls < 1 {
			return errorf("%d Graph and %d Genesys login client spans of %d exported", graphCalls, loginCalls, len(spans))
		}
		return nil
	})
	if found := receiver.containsAny(linkToken, signupToken, code, graph.AppSecret(), clientSecret, genesysToken,
		adminKey, serviceKey); found != "" {
		t.Fatalf("an exported span holds the secret %q", found)
	}
	for _, s := range spans {
		if strings.Contains(s.name, "7002") || strings.Contains(s.name, "?") {
			t.Errorf("client span name %q holds an id or a query", s.name)
		}
		if s.name == "POST /oauth/token" && s.attrs["tenant.id"] != id {
			t.Errorf("the Genesys login span names tenant %q, want %s", s.attrs["tenant.id"], id)
		}
	}
}

// OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports over gRPC, with OTEL_SERVICE_NAME.
func TestTracingExportsOverGRPC(t *testing.T) {
	receiver := newGRPCReceiver(t)
	env := otelEnv(t, testEnv(t), "http://"+receiver.addr, "grpc")
	env["OTEL_SERVICE_NAME"] = "tenant-service-blue"
	t.Setenv("OTEL_SERVICE_NAME", "tenant-service-blue")
	a := startApp(t, env)
	a.createTenant("Over gRPC")
	testkit.Eventually(t, 30*time.Second, func() error {
		for _, s := range receiver.received() {
			if s.name == "POST /api/tenants" && s.service == "tenant-service-blue" {
				return nil
			}
		}
		return errorf("no server span of tenant-service-blue among %d exported", len(receiver.received()))
	})
}

// Tracing is on only with an OTLP endpoint; the rest is checked at start.
func TestTracingConfig(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		on       bool
		protocol string
		err      string
	}{
		{env: map[string]string{}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, protocol: "grpc"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, on: true, protocol: "grpc"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			err: "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER must be otlp or none"},
	} {
		cfg, err := loadConfig(func(k string) string { return c.env[k] })
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.env, err, c.err)
			}
		case err != nil:
			t.Errorf("%v: %v", c.env, err)
		case cfg.Tracing != c.on || (c.on && cfg.OTLPProtocol != c.protocol):
			t.Errorf("%v: tracing %v over %q, want %v over %q", c.env, cfg.Tracing, cfg.OTLPProtocol, c.on, c.protocol)
		}
	}
}

// With tracing off nothing is instrumented: no provider, no query tracer.
func TestTracingOffInstrumentsNothing(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	if a.app.tracerProvider != nil || a.app.pool.Config().ConnConfig.Tracer != nil {
		t.Fatalf("tracing off, yet provider %v and query tracer %v", a.app.tracerProvider, a.app.pool.Config().ConnConfig.Tracer)
	}
}

// Close exports the spans still waiting for their batch.
func TestTracingFlushesOnClose(t *testing.T) {
	receiver := newOTLPReceiver(t)
	env := otelEnv(t, testEnv(t), receiver.URL, "http/protobuf")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000") // no batch leaves on its own during the test
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	(&testApp{t: t, app: a, srv: srv}).createTenant("Flushed")
	srv.Close()
	if n := len(receiver.received()); n != 0 {
		t.Fatalf("%d spans exported before Close, want the batch held", n)
	}
	a.Close()
	for _, s := range receiver.received() {
		if s.name == "POST /api/tenants" {
			return
		}
	}
	t.Fatalf("after Close, %d spans exported and no server span among them", len(receiver.received()))
}
