package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/schollz/progressbar/v3"

	"tenant-service/domain"
	"tenant-service/eventstore"
)

// errVerifyFailed makes `events verify` exit non-zero after it reported a break.
var errVerifyFailed = errors.New("verification failed")

// eventsCmd runs `events verify` and `events export`.
func eventsCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tenant-service events verify [--file F] | events export [--tenant ID] [--from N] [--to N] [--out F]")
	}
	switch args[0] {
	case "verify":
		fs := flag.NewFlagSet("events verify", flag.ContinueOnError)
		fs.SetOutput(stderr)
		file := fs.String("file", "", "verify this JSON Lines export instead of the database")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *file != "" {
			return verifyFile(*file, stdout, stderr)
		}
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		bar := newBar(-1, "verifying", stderr)
		res, err := eventstore.New(pool, eventstore.Config{}).Verify(ctx, func(done, total int64) {
			bar.ChangeMax64(total)
			_ = bar.Set64(done)
		})
		_ = bar.Finish()
		if err != nil {
			return err
		}
		return reportVerify(res, stdout)
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
		n, err := eventstore.New(pool, eventstore.Config{}).Export(ctx, q, w, func(done int64) { _ = bar.Set64(done) })
		_ = bar.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d events\n", n)
		return nil
	}
	return fmt.Errorf("unknown events command %q", args[0])
}

func verifyFile(path string, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	bar := newBar(-1, "verifying "+path, stderr)
	res, err := eventstore.VerifyExport(f, func(done int64) { _ = bar.Set64(done) })
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
