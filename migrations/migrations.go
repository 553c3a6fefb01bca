package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed sql/*.sql
var files embed.FS

// Up applies every pending migration and returns the resulting version.
// Concurrent callers (several replicas starting at once) are serialised by
// goose's session lock.
func Up(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int64, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return up(ctx, db, log)
}

func up(ctx context.Context, db *sql.DB, log *slog.Logger) (int64, error) {
	locker, err := newLocker()
	if err != nil {
		return 0, err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(),
		goose.WithSessionLocker(locker))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		if log != nil && r.Error == nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration.String())
		}
	}
	if err != nil {
		return 0, fmt.Errorf("migrations: up: %w", err)
	}
	v, err := provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: read version: %w", err)
	}
	return v, nil
}

// Checksum returns a hex SHA-256 over every embedded migration's name and
// content: it changes whenever the schema does.
func Checksum() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path + "\n"))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("migrations: checksum: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
