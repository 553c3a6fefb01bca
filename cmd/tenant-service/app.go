package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// shutdownGrace is how long in-flight requests get to finish after SIGTERM.
const shutdownGrace = 25 * time.Second

// App is the whole service, wired: what `serve` runs and what the tests
// start. Open builds it in three steps (the stores, the projectors, the
// HTTP API), Run runs it, Close releases what Open acquired, newest first.
type App struct {
	cfg     Config
	log     *slog.Logger
	console io.Writer // where the development admin key is printed
	// tracerProvider is where spans go; nil when tracing is off (see
	// openTracing).
	tracerProvider trace.TracerProvider

	stores
	projectors
	api
	metrics *serviceMetrics

	closers []func()
}

// Open starts tracing when it is configured, connects to PostgreSQL
// (creating and migrating the database), Redis and RabbitMQ, and wires the
// service. On failure it releases what it had acquired.
func Open(ctx context.Context, cfg Config, log *slog.Logger, console io.Writer) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, console: console, metrics: newServiceMetrics(cfg)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openTracing(ctx); err != nil {
		return nil, err
	}
	if err := a.openStores(ctx); err != nil {
		return nil, err
	}
	if err := a.openProjectors(); err != nil {
		return nil, err
	}
	if err := a.openAPI(); err != nil {
		return nil, err
	}
	return a, nil
}

// onClose registers a release, run by Close in reverse order.
func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

// Close releases what Open acquired, newest first. It is idempotent.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Handler is the HTTP API.
func (a *App) Handler() http.Handler { return a.server }

// RunBackground runs the projectors, the relay, the notifier and the
// housekeeping until ctx ends.
func (a *App) RunBackground(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, task := range a.background {
		g.Go(func() error { return task(gctx) })
	}
	return g.Wait()
}

// Serve answers HTTP on ln and runs the background work until ctx ends,
// then stops accepting connections and lets in-flight requests finish.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.server, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	// Open event streams end when shutdown starts; they would otherwise
	// hold it up until the grace period runs out.
	srv.RegisterOnShutdown(a.server.CloseStreams)
	a.log.Info("tenant service listening", "addr", ln.Addr().String(), "env", a.cfg.Env)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return a.RunBackground(gctx) })
	g.Go(func() error { return a.serveDebug(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		a.log.Info("shutting down", "grace", shutdownGrace.String())
		return srv.Shutdown(sctx)
	})
	err := g.Wait()
	a.log.Info("stopped")
	return err
}

// serve is the `serve` command: Open, listen on PORT, Serve, Close. When
// listening is not nil it receives the bound address (tests listen on port 0).
func serve(ctx context.Context, cfg Config, log *slog.Logger, console io.Writer, listening func(net.Addr)) error {
	a, err := Open(ctx, cfg, log, console)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	if listening != nil {
		listening(ln.Addr())
	}
	return a.Serve(ctx, ln)
}
