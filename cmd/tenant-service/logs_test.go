package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tenant-service/internal/logctx"
)

// Every line logged for a request carries its request id and the tenant its
// route names: the access line and a failure's warning alike.
func TestRequestLogLinesCarryTheRequest(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	a := startAppWithLogs(t, testEnv(t), &logs)
	id := a.createTenant("Logged")
	r := a.do("GET", "/api/tenants/"+id, adminKey, "", "X-Request-ID: trace-me-0001")
	if r.status != 200 {
		t.Fatalf("get: %d", r.status)
	}
	// A refused write: its line too.
	a.do("POST", "/api/tenants/"+id+"/whatsapp", adminKey, `{"wabaId":"w"}`, "X-Request-ID: trace-me-0002")

	for _, want := range []string{"trace-me-0001", "trace-me-0002"} {
		found := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if !strings.Contains(line, want) {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON line: %s", line)
			}
			if rec["request_id"] != want || rec["tenant_id"] != id {
				t.Errorf("line without the request's ids: %s", line)
			}
			found++
		}
		if found == 0 {
			t.Errorf("no line logged for request %s:\n%s", want, logs.String())
		}
	}
}

// LOG_FORMAT and LOG_LEVEL shape the logger; bad values are refused by name.
func TestLogSettings(t *testing.T) {
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"LOG_FORMAT": "text", "LOG_LEVEL": "warn"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := newLogger(&buf, cfg)
	ctx := logctx.WithRequestID(context.Background(), "req-7")
	log.InfoContext(ctx, "quiet")
	log.WarnContext(ctx, "loud")
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "msg=loud") || !strings.Contains(out, "request_id=req-7") {
		t.Errorf("text logger at warn wrote %q", out)
	}
	for name, bad := range map[string]string{"LOG_LEVEL": "chatty", "LOG_FORMAT": "xml"} {
		_, err := loadConfig(func(k string) string { return map[string]string{name: bad}[k] })
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, bad, err)
		}
	}
}
