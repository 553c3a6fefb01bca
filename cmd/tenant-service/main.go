// Command tenant-service is the event-sourced tenant registry: `serve` (the
// default) runs the HTTP API, the projectors and the RabbitMQ relay; the other
// subcommands are operator tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"tenant-service/internal/logctx"
	"tenant-service/internal/tracing"

	"github.com/joho/godotenv"
)

const usage = `usage: tenant-service [command]

commands:
  serve                         run the HTTP API, projectors and relay (default)
  migrate                       apply database migrations and exit
  events verify [--file F] [--checkpoint C] [--public-key K]
                                check the hash chains of the event store (or of an export),
                                and that no history signed by a checkpoint was cut off
  events export [--tenant ID] [--from N] [--to N] [--out F]
                                write history as JSON Lines with hashes
  events checkpoint [--out F]   sign the head (CHECKPOINT_SIGNING_KEY) for auditors to keep
  projections status            each projector's checkpoint, lag and leader
  projections rebuild NAME      replay NAME (tenants, redis.tenants, relay.rabbitmq) from position 0
  keys rotate                   rewrap every data key with ENCRYPTION_ACTIVE_KEY (resumable)
  keys generate ID              print a new ENCRYPTION_KEYS entry "ID:base64"
  keys generate-signing         print a new CHECKPOINT_SIGNING_KEY / CHECKPOINT_PUBLIC_KEY pair
  keys retire ID                record that no data key is wrapped by key ID any more
`

func main() {
	_ = godotenv.Load() // a .env file is optional; variables already set win
	if os.Getenv("GOGC") == "" {
		// The live heap is small (about 8 MB at 10,000 tenants) and every
		// request allocates, so Go's default (collect when the heap doubles)
		// collects many times a second under load; 200 halves that for
		// about 8 MB more at the peak. GOGC set in the environment wins.
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// defaultGCPercent is GOGC when the environment does not set it.
const defaultGCPercent = 200

// run executes one subcommand and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		// One clear line per missing or bad setting.
		for _, line := range splitJoined(err) {
			fmt.Fprintln(stderr, "tenant-service: configuration:", line)
		}
		return 2
	}
	// Log lines go out in batches (a write per request cost more than the
	// line under load); what is gathered is written before run returns.
	logw := logctx.NewBuffered(stderr, 0, 0)
	log := newLogger(logw, cfg)
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log, stderr, nil)
	case "migrate":
		err = migrateCmd(ctx, cfg, log, stdout)
	case "events":
		err = eventsCmd(ctx, cfg, log, args, stdout, stderr)
	case "projections":
		err = projectionsCmd(ctx, cfg, log, args, stdout, stderr)
	case "keys":
		err = keysCmd(ctx, cfg, log, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "tenant-service: unknown command %q\n%s", cmd, usage)
		return 2
	}
	_ = logw.Flush()
	if err != nil {
		fmt.Fprintln(stderr, "tenant-service:", err)
		return 1
	}
	return 0
}

// newLogger writes the service's logs to w as LOG_FORMAT and LOG_LEVEL say;
// every line logged for a request carries its request id and tenant id, and
// when it is traced its trace and span ids.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(logctx.NewHandler(h, tracing.LogAttrs))
}

func splitJoined(err error) []string {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}
