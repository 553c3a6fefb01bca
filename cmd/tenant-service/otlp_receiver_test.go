package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it accepts what an
// exporter posts to /v1/traces (protobuf ExportTraceServiceRequest) and
// keeps every span and every request body as it came.
type otlpReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	spans  []receivedSpan
	bodies [][]byte
}

// receivedSpan is one exported span, with ids in hex.
type receivedSpan struct {
	service                   string // the resource's service.name
	traceID, spanID, parentID string
	name, kind                string
	attrs                     map[string]string
	links                     []receivedLink
	statusCode, statusMessage string
}

type receivedLink struct{ traceID, spanID string }

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces with application/x-protobuf", http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.record(&msg, raw)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// record keeps the spans of an export request and its encoded form.
func (r *otlpReceiver) record(msg *coltracepb.ExportTraceServiceRequest, raw []byte) {
	var got []receivedSpan
	for _, rs := range msg.GetResourceSpans() {
		service := attrMap(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				rec := receivedSpan{service: service, traceID: hex.EncodeToString(s.GetTraceId()),
					spanID: hex.EncodeToString(s.GetSpanId()), parentID: hex.EncodeToString(s.GetParentSpanId()),
					name: s.GetName(), kind: s.GetKind().String(), attrs: attrMap(s.GetAttributes()),
					statusCode: s.GetStatus().GetCode().String(), statusMessage: s.GetStatus().GetMessage()}
				for _, l := range s.GetLinks() {
					rec.links = append(rec.links, receivedLink{hex.EncodeToString(l.GetTraceId()), hex.EncodeToString(l.GetSpanId())})
				}
				got = append(got, rec)
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.bodies = append(r.bodies, raw)
	r.mu.Unlock()
}

// grpcReceiver is the OTLP/gRPC form of the receiver.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	*otlpReceiver
	addr string
}

func newGRPCReceiver(t testing.TB) *grpcReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcReceiver{otlpReceiver: &otlpReceiver{}, addr: ln.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, g)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return g
}

func (g *grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	raw, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	g.record(req, raw)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// attrMap flattens attributes to strings (other kinds by their text form).
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// received returns the spans exported so far.
func (r *otlpReceiver) received() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.spans...)
}

// containsAny returns the first of the values found in any exported
// request body (names, attributes, events, links, status, resource: the
// protobuf holds strings as they are), or "".
func (r *otlpReceiver) containsAny(values ...string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				return v
			}
		}
	}
	return ""
}
