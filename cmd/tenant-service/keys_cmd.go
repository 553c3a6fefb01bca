package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"tenant-service/vault"
)

// keysCmd runs `keys rotate` (rewrap every data key with the active
// key-encryption key; resumable, events untouched) and `keys generate ID`
// (print a new ENCRYPTION_KEYS entry).
func keysCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: tenant-service keys rotate | keys generate ID | keys generate-signing | keys retire ID"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "generate":
		if len(args) != 2 {
			return errors.New(usage)
		}
		entry, err := vault.GenerateKeyEntry(args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, entry)
		return nil
	case "generate-signing":
		lines, err := generateSigningKeys()
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, lines)
		return nil
	case "retire":
		if len(args) != 2 {
			return errors.New(usage)
		}
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		v, err := openVault(pool, cfg, log)
		if err != nil {
			return err
		}
		if err := v.Retire(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key-encryption key %q is retired: no data key is wrapped by it. Remove it from ENCRYPTION_KEYS and destroy it;\n"+
			"backups taken while it still wrapped data keys become unreadable with it, so secrets shredded since reach those backups too.\n", args[1])
		return nil
	case "rotate":
		pool, err := openDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		v, err := openVault(pool, cfg, log)
		if err != nil {
			return err
		}
		res, err := vault.RunRotate(ctx, v, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "data keys rewrapped with key %q: %d of %d (%d failed)\n", res.ActiveKey, res.Rewrapped, res.Total, res.Failed)
		return nil
	}
	return fmt.Errorf("unknown keys command %q; %s", args[0], usage)
}
