package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// errVerifyFailed makes `events verify` exit non-zero after it reported a break.
var errVerifyFailed = errors.New("verification failed")

// eventsCmd runs `events verify` and `events export`.
func eventsCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(eventsUsage)
	}
	switch args[0] {
	case "verify":
		fs := flag.NewFlagSet("events verify", flag.ContinueOnError)
		fs.SetOutput(stderr)
		file := fs.String("file", "", "verify this JSON Lines export instead of the database")
		var cpFiles stringList
		fs.Var(&cpFiles, "checkpoint", "also check against this signed checkpoint (repeatable)")
		pubKey := fs.String("public-key", "", "the base64 Ed25519 public key checkpoints must be signed with (default CHECKPOINT_PUBLIC_KEY)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		checkpoints, err := readCheckpoints(cfg, cpFiles, *pubKey)
		if err != nil {
			return err
		}
		if *file != "" {
			return verifyFile(*file, checkpoints, stdout, stderr)
		}
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		bar := newBar(-1, "verifying", stderr)
		res, err := eventstore.NewReader(pool).Verify(ctx, func(done, total int64) {
			bar.ChangeMax64(total)
			_ = bar.Set64(done)
		}, checkpoints...)
		_ = bar.Finish()
		if err != nil {
			return err
		}
		return reportVerify(res, stdout)
	case "checkpoint":
		fs := flag.NewFlagSet("events checkpoint", flag.ContinueOnError)
		fs.SetOutput(stderr)
		out := fs.String("out", "", "write to this file instead of standard output")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		key, err := signingKey(cfg)
		if err != nil {
			return err
		}
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		cp, err := eventstore.NewReader(pool).SignCheckpoint(ctx, key, time.Now())
		if err != nil {
			return err
		}
		w := stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			defer f.Close()
			w = f
		}
		if err := json.NewEncoder(w).Encode(cp); err != nil {
			return fmt.Errorf("checkpoint: write: %w", err)
		}
		fmt.Fprintf(stderr, "signed checkpoint at position %d; keep it away from the database\n", cp.Position)
		return nil
	case "export":
		fs := flag.NewFlagSet("events export", flag.ContinueOnError)
		fs.SetOutput(stderr)
		tenant := fs.String("tenant", "", "only this tenant's events")
		from := fs.Int64("from", 0, "first global position (inclusive)")
		to := fs.Int64("to", 0, "last global position (inclusive)")
		out := fs.String("out", "", "write to this file instead of standard output")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		q := eventstore.ExportQuery{FromPosition: domain.Position(*from), ToPosition: domain.Position(*to)}
		if *tenant != "" {
			id, err := domain.ParseTenantID(*tenant)
			if err != nil {
				return err
			}
			q.TenantID = id
		}
		if *from < 0 || *to < 0 || (*to > 0 && *to < *from) {
			return errors.New("--from and --to must be positions with from <= to")
		}
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		w := stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer f.Close()
			w = f
		}
		bar := newBar(-1, "exporting", stderr)
		n, err := eventstore.NewReader(pool).Export(ctx, q, w, func(done int64) { _ = bar.Set64(done) })
		_ = bar.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d events\n", n)
		return nil
	}
	return fmt.Errorf("unknown events command %q", args[0])
}

const eventsUsage = `usage: tenant-service events verify [--file F] [--checkpoint C]... [--public-key K]
       tenant-service events export [--tenant ID] [--from N] [--to N] [--out F]
       tenant-service events checkpoint [--out F]`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// readCheckpoints reads and checks the signed checkpoint files.
func readCheckpoints(cfg Config, paths []string, pubKey string) ([]eventstore.Checkpoint, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	trusted, err := trustedKey(cfg, pubKey)
	if err != nil {
		return nil, err
	}
	var out []eventstore.Checkpoint
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		c, err := eventstore.ReadCheckpoint(f, trusted)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func verifyFile(path string, checkpoints []eventstore.Checkpoint, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	bar := newBar(-1, "verifying "+path, stderr)
	res, err := eventstore.VerifyExport(f, func(done int64) { _ = bar.Set64(done) }, checkpoints...)
	_ = bar.Finish()
	if err != nil {
		return err
	}
	return reportVerify(res, stdout)
}

func reportVerify(res eventstore.VerifyResult, stdout io.Writer) error {
	if res.Break != nil {
		fmt.Fprintf(stdout, "BROKEN at position %d (%s): %s\nchecked %d events before it\n",
			res.Break.Position, res.Break.StreamID, res.Break.Reason, res.Checked)
		return errVerifyFailed
	}
	fmt.Fprintf(stdout, "OK: %d events verified, chain intact up to position %d\n", res.Checked, res.Head)
	return nil
}

// newBar returns a progress bar on w (a spinner when max is -1).
func newBar(max int64, desc string, w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(100_000_000),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}
