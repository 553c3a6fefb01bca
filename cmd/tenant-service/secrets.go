package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/vault"
)

// openVault builds the vault from ENCRYPTION_KEYS, or in development without
// keys from a generated key kept in the dev state directory (with a warning).
func openVault(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*vault.Vault, error) {
	var ring *vault.Keyring
	var err error
	if cfg.EncryptionKeys != "" {
		ring, err = vault.ParseKeyring(cfg.EncryptionKeys, cfg.EncryptionActiveKey)
		if err != nil {
			return nil, fmt.Errorf("ENCRYPTION_KEYS: %w", err)
		}
	} else {
		if cfg.Production() {
			return nil, fmt.Errorf("ENCRYPTION_KEYS is required in production")
		}
		path := filepath.Join(cfg.DevDir, "encryption.key")
		var created bool
		ring, created, err = vault.DevKeyring(path)
		if err != nil {
			return nil, fmt.Errorf("development encryption key: %w", err)
		}
		log.Warn("ENCRYPTION_KEYS is not set: using a development key kept in a local file; set ENCRYPTION_KEYS outside development",
			"path", path, "created", created)
	}
	return vault.New(pool, ring, vault.Config{})
}

// checkKeys makes sure every stored data key can be opened: a key-encryption
// key that wraps live data keys but is missing from ENCRYPTION_KEYS stops a
// production start (naming it) and is a warning in development; a retired
// key still configured is a warning, and a retired active key stops the start.
func checkKeys(ctx context.Context, v *vault.Vault, cfg Config, log *slog.Logger) error {
	rep, err := v.CheckKeys(ctx)
	if err != nil {
		return err
	}
	problems := rep.Problems()
	if rep.ActiveRetired {
		problems = append(problems, fmt.Sprintf("ENCRYPTION_ACTIVE_KEY %q was retired: choose another active key", v.Keyring().ActiveID()))
	}
	if len(problems) > 0 && cfg.Production() {
		return errors.New(strings.Join(problems, "; "))
	}
	for _, p := range problems {
		log.Warn(p)
	}
	if len(rep.Retired) > 0 {
		log.Warn("ENCRYPTION_KEYS holds retired keys, which wrap no data key: remove them and destroy them", "keys", rep.Retired)
	}
	return nil
}

// forgetSecrets drops this replica's cached data key and Genesys token
// memory of a tenant that another replica deleted, and the token memory of
// one whose credentials were rotated.
func forgetSecrets(v *vault.Vault, tokens *genesys.Provider) func([]domain.StoredEvent) {
	return func(events []domain.StoredEvent) {
		for _, e := range events {
			switch e.Type {
			case domain.EventTenantDeleted:
				v.Forget(e.TenantID)
				tokens.Forget(string(e.TenantID))
			case domain.EventCredentialsRotated:
				tokens.Forget(string(e.TenantID))
			}
		}
	}
}

// sealer adapts the vault to the handlers (which seal before the command's
// transaction) and to the Genesys token cache.
type sealer struct{ v *vault.Vault }

func (s sealer) SealRef(ctx context.Context, id domain.TenantID, field, plaintext string) (domain.SecretRef, error) {
	return s.v.SealRef(ctx, nil, id, field, plaintext)
}

func (s sealer) OpenRef(ctx context.Context, id domain.TenantID, field string, ref domain.SecretRef) (string, error) {
	return s.v.OpenRef(ctx, id, field, ref)
}

func (s sealer) Live(ctx context.Context, id domain.TenantID) error { return s.v.Live(ctx, id) }

func (s sealer) Seal(ctx context.Context, tenantID, field, plaintext string) (string, error) {
	return s.v.Seal(ctx, nil, domain.TenantID(tenantID), field, plaintext)
}

func (s sealer) Open(ctx context.Context, tenantID, field, ciphertext string) (string, error) {
	return s.v.Open(ctx, domain.TenantID(tenantID), field, ciphertext)
}
