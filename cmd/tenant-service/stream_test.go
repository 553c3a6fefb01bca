package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one message of the live feed.
type sseEvent struct {
	id    int64
	event string
	data  string
}

// sseClient reads the live feed of a test app until its context ends.
type sseClient struct {
	res    *http.Response
	cancel context.CancelFunc
	events chan sseEvent
}

func (a *testApp) stream(key string, headers ...string) *sseClient {
	a.t.Helper()
	return a.streamPath("/api/events/stream", key, headers...)
}

func (a *testApp) streamPath(path, key string, headers ...string) *sseClient {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		cancel()
		a.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		cancel()
		res.Body.Close()
		a.t.Fatalf("stream: %d", res.StatusCode)
	}
	c := &sseClient{res: res, cancel: cancel, events: make(chan sseEvent, 256)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.event != "" {
					c.events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				e.id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				e.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	a.t.Cleanup(c.close)
	return c
}

// close drops the connection, as a client that goes away does.
func (c *sseClient) close() { c.cancel(); c.res.Body.Close() }

// take waits for n events.
func (c *sseClient) take(t *testing.T, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-c.events:
			if !ok {
				t.Fatalf("the stream ended after %d of %d events", len(out), n)
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("got %d of %d events within 10s: %+v", len(out), n, out)
		}
	}
	return out
}

// quiet checks that no event arrives for a while.
func (c *sseClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if ok {
			t.Fatalf("unexpected event %+v", e)
		}
	case <-time.After(d):
	}
}

func TestEventStreamLiveResumeAndSecrets(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	before := a.createTenant("Before the stream")

	// Auditor and service keys may follow the feed; without a start only
	// what commits after the head arrives.
	live := a.stream(auditorKey)
	svc := a.stream(serviceKey)
	id := a.createTenant("Streamed")
	r := a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey,
		`{"wabaId":"7001","phoneNumberId":"7002","displayPhoneNumber":"+1 555 0100","accessToken":"EAAG-very-secret-token-4242"}`)
	if r.status != 201 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	got := live.take(t, 3)
	wantTypes := []string{"TenantCreated", "WABALinked", "WhatsAppTokenStored"}
	for i, e := range got {
		if e.event != wantTypes[i] || strings.Contains(e.data, before) {
			t.Fatalf("event %d: %+v, want %s", i, e, wantTypes[i])
		}
		if strings.Contains(e.data, "EAAG-very-secret-token") || strings.Contains(strings.ToLower(e.data), "ciphertext") {
			t.Fatalf("the stream shows a secret: %s", e.data)
		}
		var view map[string]any
		if err := json.Unmarshal([]byte(e.data), &view); err != nil || view["position"] != float64(e.id) || view["type"] != e.event {
			t.Fatalf("data is not the event as the feed shows it: %v %s", err, e.data)
		}
	}
	// The same representation as GET /api/events.
	feed := a.do("GET", "/api/events?afterPosition="+strconv.FormatInt(got[0].id-1, 10)+"&limit=3", auditorKey, "")
	var page struct{ Items []json.RawMessage }
	if err := json.Unmarshal(feed.body, &page); err != nil || len(page.Items) != 3 {
		t.Fatalf("feed: %v %s", err, feed.body)
	}
	for i, item := range page.Items {
		var x, y any
		_ = json.Unmarshal(item, &x)
		_ = json.Unmarshal([]byte(got[i].data), &y)
		xb, _ := json.Marshal(x)
		yb, _ := json.Marshal(y)
		if string(xb) != string(yb) {
			t.Fatalf("stream item %d differs from the feed:\n%s\n%s", i, yb, xb)
		}
	}
	if s := svc.take(t, 3); s[2].id != got[2].id {
		t.Fatalf("service stream: %+v", s)
	}

	// Drop the connection, miss some events, resume with Last-Event-ID:
	// exactly the missed ones, in order, then live ones.
	last := got[2].id
	live.close()
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	a.do("POST", "/api/tenants/"+id+"/reactivate", adminKey, "")
	a.createTenant("Missed")
	resumed := a.stream(auditorKey, "Last-Event-ID: "+strconv.FormatInt(last, 10))
	missed := resumed.take(t, 3)
	for i, e := range missed {
		if e.id != last+int64(i)+1 {
			t.Fatalf("resumed events %+v: want positions %d.. with no gap or duplicate", missed, last+1)
		}
	}
	a.do("POST", "/api/tenants/"+id+"/suspend", adminKey, "")
	if e := resumed.take(t, 1)[0]; e.id != last+4 || e.event != "TenantSuspended" {
		t.Fatalf("live after resume: %+v", e)
	}
	resumed.quiet(t, 300*time.Millisecond)

	// ?afterPosition= starts from a position too.
	from := a.streamPath("/api/events/stream?afterPosition="+strconv.FormatInt(last+2, 10), adminKey)
	if e := from.take(t, 2); e[0].id != last+3 || e[1].id != last+4 {
		t.Fatalf("afterPosition: %+v", e)
	}
}

func TestEventStreamRefusals(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, c := range []struct {
		path   string
		header string
		field  string
	}{
		{"/api/events/stream?afterPosition=-1", "", "afterPosition"},
		{"/api/events/stream?afterPosition=abc", "", "afterPosition"},
		{"/api/events/stream", "Last-Event-ID: 1e3", "Last-Event-ID"},
		{"/api/events/stream?afterPosition=1", "Last-Event-ID: -5", "Last-Event-ID"},
	} {
		var h []string
		if c.header != "" {
			h = append(h, c.header)
		}
		expectProblem(t, a.do("GET", c.path, auditorKey, "", h...), 400, c.field)
	}
	expectProblem(t, a.do("GET", "/api/events/stream", "", ""), 401, "")
}

// A stream outlives the server's read and write timeouts, and does not hold
// up shutdown: Shutdown returns promptly with a stream open.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	srv := &http.Server{Handler: a.app.server, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}
	srv.RegisterOnShutdown(a.app.server.CloseStreams)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+auditorKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("stream: %v", err)
	}
	defer res.Body.Close()
	events := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				events <- sc.Text()
			}
		}
		close(events)
	}()
	time.Sleep(time.Second) // past every timeout
	a.createTenant("After the timeouts")
	select {
	case e, ok := <-events:
		if !ok || e != "event: TenantCreated" {
			t.Fatalf("after the timeouts: %q %v", e, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the timeouts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v after %s", err, time.Since(start))
	}
}
