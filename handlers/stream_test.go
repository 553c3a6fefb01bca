package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
)

// feedApp is fakeApp with a global feed that grows: Feed answers the events
// after a position from events.
type feedApp struct {
	fakeApp
	mu     sync.Mutex
	events []domain.StoredEvent
}

func (f *feedApp) add(e domain.StoredEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Position = domain.Position(len(f.events) + 1)
	f.events = append(f.events, e)
}

func (f *feedApp) Feed(_ context.Context, after domain.Position, limit int, _ domain.EventFilter) (domain.EventPage, error) {
	if err := f.call("Feed"); err != nil {
		return domain.EventPage{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := domain.EventPage{Head: domain.Position(len(f.events))}
	for _, e := range f.events {
		if e.Position > after && len(p.Events) < limit {
			p.Events = append(p.Events, e)
		}
	}
	return p, nil
}

// sseMessage is one parsed Server-Sent Events message.
type sseMessage struct{ id, event, data string }

// readSSE parses messages from the body onto a channel until it ends.
func readSSE(body *bufio.Reader) <-chan sseMessage {
	out := make(chan sseMessage, 64)
	go func() {
		defer close(out)
		var m sseMessage
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if m.id != "" || m.data != "" {
					out <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			}
		}
	}()
	return out
}

func openStream(t *testing.T, url, key string, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func next(t *testing.T, ch <-chan sseMessage) sseMessage {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return sseMessage{}
}

// streamServer serves app with cfg (its logs discarded) over HTTP until the
// test ends, closing its streams first.
func streamServer(t *testing.T, app App, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := NewServer(app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseStreams) // runs first: open streams end before the server closes
	return s, srv
}

func TestEventStreamFollowsAndResumes(t *testing.T) {
	app := &feedApp{}
	secret := json.RawMessage(`{"token":{"hint":"****wxyz","ciphertext":"c2VjcmV0"}}`)
	app.add(domain.StoredEvent{Type: "TenantCreated", StreamID: "tenant-a", Version: 1, Data: json.RawMessage(`{"name":"A"}`)})
	s, srv := streamServer(t, app, Config{
		APIKeys: []APIKey{{RoleAdmin, testAdmin}, {RoleService, testService}, {RoleAuditor, testAuditor}}})

	// Without a start: only what commits after the head.
	res := openStream(t, srv.URL+streamPath, testService)
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" ||
		res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("stream answer: %d %v", res.StatusCode, res.Header)
	}
	br := bufio.NewReader(res.Body)
	if line, _ := br.ReadString('\n'); line != "retry: 2000\n" {
		t.Fatalf("first line %q", line)
	}
	msgs := readSSE(br)
	app.add(domain.StoredEvent{Type: "WhatsAppTokenStored", StreamID: "tenant-a", Version: 2, Data: secret})
	m := next(t, msgs)
	if m.id != "2" || m.event != "WhatsAppTokenStored" || strings.Contains(m.data, "ciphertext") || !strings.Contains(m.data, "****wxyz") {
		t.Fatalf("live message %+v", m)
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(m.data), &view); err != nil || view["position"] != float64(2) || view["streamId"] != "tenant-a" {
		t.Fatalf("data is not the event view: %v %s", err, m.data)
	}

	// Resuming from Last-Event-ID: exactly the events after it, and
	// Last-Event-ID wins over afterPosition.
	app.add(domain.StoredEvent{Type: "TenantSuspended", StreamID: "tenant-a", Version: 3})
	app.add(domain.StoredEvent{Type: "TenantReactivated", StreamID: "tenant-a", Version: 4})
	res2 := openStream(t, srv.URL+streamPath+"?afterPosition=0", testAuditor, "Last-Event-ID: 2")
	defer res2.Body.Close()
	msgs2 := readSSE(bufio.NewReader(res2.Body))
	for _, want := range []string{"3", "4"} {
		if m := next(t, msgs2); m.id != want {
			t.Fatalf("resumed message %+v, want id %s", m, want)
		}
	}
	// CloseStreams ends open streams.
	s.CloseStreams()
	select {
	case _, ok := <-msgs2:
		for ok {
			_, ok = <-msgs2
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end on CloseStreams")
	}
}

// The request deadline does not cut a stream short.
func TestEventStreamOutlivesTheRequestDeadline(t *testing.T) {
	app := &feedApp{}
	_, srv := streamServer(t, app, Config{RequestTimeout: 100 * time.Millisecond, APIKeys: []APIKey{{RoleAdmin, testAdmin}}})
	res := openStream(t, srv.URL+streamPath, testAdmin)
	defer res.Body.Close()
	msgs := readSSE(bufio.NewReader(res.Body))
	time.Sleep(400 * time.Millisecond)
	app.add(domain.StoredEvent{Type: "TenantCreated", StreamID: "tenant-a", Version: 1})
	if m := next(t, msgs); m.id != "1" {
		t.Fatalf("after the deadline: %+v", m)
	}
}

func TestEventStreamRefusesBadStarts(t *testing.T) {
	s := newTestServer(t, &feedApp{})
	for _, h := range []string{"Last-Event-ID: -1", "Last-Event-ID: abc", ""} {
		c := call{"GET", streamPath + "?afterPosition=1.5", "", testAuditor, "", 400}
		var headers []string
		if h != "" {
			headers = append(headers, h)
		}
		w := c.do(t, s, headers...)
		checkProblem(t, w, 400, "invalid-request")
	}
}

func TestWhoAmI(t *testing.T) {
	s := newTestServer(t, &fakeApp{})
	for key, role := range map[string]string{testAdmin: "admin", testService: "service", testAuditor: "auditor"} {
		w := call{"GET", "/api/whoami", "", key, "", 200}.do(t, s)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"role":"`+role+`"}` {
			t.Fatalf("whoami with the %s key: %d %s", role, w.Code, w.Body)
		}
	}
	checkProblem(t, call{"GET", "/api/whoami", "", "", "", 401}.do(t, s), 401, "unauthenticated")
	checkProblem(t, call{"GET", "/api/whoami", "", "not-a-key-at-all-1234", "", 401}.do(t, s), 401, "invalid-api-key")
}

func TestVerifyAnswers(t *testing.T) {
	s := newTestServer(t, &fakeApp{})
	w := call{"GET", "/api/events/verify?afterPosition=10", "", testAuditor, "", 200}.do(t, s)
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v["ok"] != true || v["from"] != float64(11) || v["to"] != float64(12) || v["head"] != float64(15) ||
		v["nextAfterPosition"] != float64(12) || v["break"] != nil {
		t.Fatalf("feed verification %s", w.Body)
	}
	w = call{"GET", "/api/tenants/" + testTenant + "/verify", "", testAuditor, "", 200}.do(t, s)
	if !strings.Contains(w.Body.String(), `"break":null`) || !strings.Contains(w.Body.String(), `"ok":true`) {
		t.Fatalf("tenant verification %s", w.Body)
	}
}
