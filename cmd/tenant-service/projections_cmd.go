package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/eventstore"
	"tenant-service/messaging"
	"tenant-service/projections"
)

const projectionsUsage = `usage: tenant-service projections status
       tenant-service projections rebuild NAME   (NAME: tenants, redis.tenants, relay.rabbitmq)`

// projectionsCmd runs `projections status` and `projections rebuild NAME`.
func projectionsCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(projectionsUsage)
	}
	pool, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	runner, err := projections.NewRunner(pool, eventstore.NewReader(pool), nil, log, projections.RunnerConfig{})
	if err != nil {
		return err
	}
	switch args[0] {
	case "status":
		list, err := runner.Status(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PROJECTOR\tPOSITION\tHEAD\tLAG\tLEADER\tUPDATED\tLAST ERROR")
		for _, s := range list {
			updated := "-"
			if !s.UpdatedAt.IsZero() {
				updated = s.UpdatedAt.UTC().Format(time.RFC3339)
			}
			leader := "no"
			if s.Leader {
				leader = "yes"
			}
			if s.RebuildRequested {
				leader += " (rebuild requested)"
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Name, s.Position, s.Head, s.Lag, leader, updated, s.LastError)
		}
		return w.Flush()
	case "rebuild":
		if len(args) != 2 {
			return errors.New(projectionsUsage)
		}
		name := args[1]
		bar := newBar(-1, "rebuilding "+name, stderr)
		progress := func(done, total int64) {
			bar.ChangeMax64(total)
			_ = bar.Set64(done)
		}
		start := time.Now()
		switch name {
		case projections.TenantsName:
			err = rebuildTenants(ctx, pool, progress)
		case projections.RedisTenantsName:
			err = rebuildRedis(ctx, cfg, log, pool, runner, progress)
		case messaging.RelayName:
			fmt.Fprintln(stderr, "note: rebuilding the relay publishes every event again; consumers drop duplicates by message_id")
			err = rebuildRelay(ctx, cfg, log, runner, progress)
		default:
			return fmt.Errorf("unknown projection %q\n%s", name, projectionsUsage)
		}
		_ = bar.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s rebuilt in %s\n", name, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return fmt.Errorf("unknown projections command %q\n%s", args[0], projectionsUsage)
}

func rebuildTenants(ctx context.Context, pool *pgxpool.Pool, progress func(done, total int64)) error {
	tenants := projections.NewTenants(pool)
	store, err := eventstore.New(pool, tenants, eventstore.Config{})
	if err != nil {
		return err
	}
	return tenants.RebuildTenants(ctx, store, progress)
}

func rebuildRedis(ctx context.Context, cfg Config, log *slog.Logger, pool *pgxpool.Pool, runner *projections.Runner, progress func(done, total int64)) error {
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	p, err := projections.NewRedisTenants(rdb, projections.NewTenants(pool), projections.RedisConfig{Prefix: cfg.RedisKeyPrefix, Log: log})
	if err != nil {
		return err
	}
	return runner.Rebuild(ctx, p, progress)
}

func rebuildRelay(ctx context.Context, cfg Config, log *slog.Logger, runner *projections.Runner, progress func(done, total int64)) error {
	relay, err := messaging.NewRelay(cfg.AMQPURL, log, messaging.RelayConfig{Exchange: cfg.AMQPExchange})
	if err != nil {
		return err
	}
	defer relay.Close()
	return runner.Rebuild(ctx, relay, progress)
}
