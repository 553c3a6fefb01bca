package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/internal/postgres"
	"tenant-service/migrations"
)

// openDatabase creates the database when it is missing, opens a pool
// (changed by configure, when given, before it opens) and migrates it.
func openDatabase(ctx context.Context, cfg Config, log *slog.Logger, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	// Parsed as a pool URL, its pool settings (pool_max_conns, ...) are not
	// sent to the server as parameters, which it would refuse.
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if err := ensureDatabase(ctx, pc.ConnConfig.Copy(), log); err != nil {
		return nil, err
	}
	pc.ConnConfig.DialFunc = dialPostgres
	// A stuck transaction must not hold the head row (and so every append) for long.
	pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "30000"
	pc.AfterConnect = postgres.SetUpConn
	for _, f := range configure {
		f(pc)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if _, err := migrations.Up(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// ensureDatabase creates cc's database if the server says it does not
// exist, connecting to the server's "postgres" database to do so; cc is
// changed.
func ensureDatabase(ctx context.Context, cc *pgx.ConnConfig, log *slog.Logger) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err == nil {
		return conn.Close(ctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" {
		return fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cc.Host, cc.Port, err)
	}
	name := cc.Database
	cc.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pe) && pe.Code == "42P04" { // created by a concurrent start
			return nil
		}
		return fmt.Errorf("create database %s: %w", name, err)
	}
	log.Info("database created", "database", name)
	return nil
}

func migrateCmd(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	pool, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	var v int64
	if err := pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	fmt.Fprintf(stdout, "database migrated to version %d\n", v)
	return nil
}
