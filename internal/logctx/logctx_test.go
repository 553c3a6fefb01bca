package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestHandlerAddsTheRequestsIdentity(t *testing.T) {
	var buf bytes.Buffer
	trace := func(context.Context) []slog.Attr {
		return []slog.Attr{slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")}
	}
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), trace)).With("component", "test")
	ctx := WithTenantID(WithRequestID(context.Background(), "req-1"), "0b9d2c62-1f3e-4c56-9a7b-2d8e4f6a1c3b")
	log.InfoContext(ctx, "hello", "n", 1)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"request_id": "req-1", "tenant_id": "0b9d2c62-1f3e-4c56-9a7b-2d8e4f6a1c3b",
		"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "component": "test", "n": 1.0} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], want, buf.String())
		}
	}
	buf.Reset()
	log.Info("no context")
	if bytes.Contains(buf.Bytes(), []byte("request_id")) {
		t.Errorf("a line without a request context has a request id: %s", buf.String())
	}
}
