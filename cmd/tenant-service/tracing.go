package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"tenant-service/internal/tracing"
)

// defaultServiceName is service.name in traces unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES says otherwise.
const defaultServiceName = "tenant-service"

// flushTimeout bounds how long Close waits for the last spans to be exported.
const flushTimeout = 5 * time.Second

// openTracing builds the trace pipeline when Config.Tracing is on: an SDK
// provider that batches spans to an OTLP exporter (http/protobuf or grpc,
// configured by the standard OTEL_* variables), labels spans with the
// tenant their context carries, and samples by OTEL_TRACES_SAMPLER. Close
// flushes it. With tracing off it does nothing: a.tracerProvider stays nil, no
// client is instrumented and no goroutine runs.
func (a *App) openTracing(ctx context.Context) error {
	if !a.cfg.Tracing {
		return nil
	}
	exporter, err := newSpanExporter(ctx, a.cfg.OTLPProtocol)
	if err != nil {
		return fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	detectors := []resource.Option{resource.WithAttributes(semconv.ServiceName(defaultServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK()}
	if a.cfg.ServiceName != "" {
		detectors = append(detectors, resource.WithAttributes(semconv.ServiceName(a.cfg.ServiceName)))
	}
	res, err := resource.New(ctx, detectors...)
	if err != nil {
		if res == nil || !errors.Is(err, resource.ErrPartialResource) {
			_ = exporter.Shutdown(ctx)
			return fmt.Errorf("tracing: resource: %w", err)
		}
		a.log.Warn("tracing: some resource attributes could not be read", "error", err.Error())
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(tenantLabeller{}), sdktrace.WithBatcher(exporter))
	a.tracerProvider = provider
	otelErrorsOnce.Do(func() { otel.SetErrorHandler(otelErrors{a.log}) })
	a.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := provider.Shutdown(ctx); err != nil {
			a.log.Warn("tracing: the last spans could not be exported", "error", err.Error())
		}
	})
	// Never the endpoint or headers: they may hold credentials.
	a.log.Info("tracing on: spans are exported over OTLP", "protocol", a.cfg.OTLPProtocol)
	return nil
}

// newSpanExporter returns the OTLP exporter for the protocol; each reads
// its endpoint, headers, timeout, compression and certificates from the
// OTEL_EXPORTER_OTLP_(TRACES_)* variables.
func newSpanExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	if protocol == "grpc" {
		return otlptracegrpc.New(ctx)
	}
	return otlptracehttp.New(ctx)
}

// tenantLabeller sets tenant.id on every span started under a context that
// carries a tenant (tracing.WithTenant): the SQL, Redis and HTTP client
// spans of a request about one tenant.
type tenantLabeller struct{}

func (tenantLabeller) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if id := tracing.Tenant(parent); id != "" {
		s.SetAttributes(tracing.TenantID.String(id))
	}
}

func (tenantLabeller) OnEnd(sdktrace.ReadOnlySpan)      {}
func (tenantLabeller) Shutdown(context.Context) error   { return nil }
func (tenantLabeller) ForceFlush(context.Context) error { return nil }

// otelErrors routes the SDK's own errors (an export that failed) to the log.
type otelErrors struct{ log *slog.Logger }

var otelErrorsOnce sync.Once // the SDK's error handler is process-wide

func (h otelErrors) Handle(err error) { h.log.Warn("tracing: OpenTelemetry SDK", "error", err.Error()) }

// traceDatabase makes every query under a traced request a span
// (otelpgx: SQL text with its $n placeholders, never the arguments).
func (a *App) traceDatabase(pc *pgxpool.Config) {
	pc.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(a.tracerProvider),
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()))
}

// traceRedis makes every Redis call under a traced request a span, named by
// the command alone: the statement (keys and values, sealed tokens among
// them) and the caller's file and line are left out. Background calls (the
// projector, the follower) start no trace.
func (a *App) traceRedis(rdb redis.UniversalClient) error {
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tracing.ContinueOnly(a.tracerProvider)),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
		return fmt.Errorf("tracing: redis: %w", err)
	}
	return nil
}

// outboundHTTP is the HTTP client the Meta Graph and Genesys login clients
// send with: nil (their own) when tracing is off; when on, one whose calls
// are client spans without URL queries (tracing.Transport) and that, like
// theirs, never follows a redirect (it would carry credentials elsewhere).
func (a *App) outboundTransport() http.RoundTripper {
	if a.tracerProvider == nil {
		return nil
	}
	return tracing.Transport(nil, tracing.ContinueOnly(a.tracerProvider))
}
