package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DevKeyID is the id of the key DevKeyring generates.
const DevKeyID = "dev"

// DevKeyring is for development only: it returns the keyring kept in the file
// at path (ENCRYPTION_KEYS format, the first entry active), creating the file
// with one random key (mode 0600, its directory 0700) when it does not exist,
// so restarts can still open what earlier runs sealed. created reports that
// a new key was generated; the caller should log a warning saying so (the
// path, never the key). Concurrent first calls agree on one key.
func DevKeyring(path string) (ring *Keyring, created bool, err error) {
	if ring, err := readKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		return ring, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("development key file: %w", err)
	}
	entry, err := GenerateKeyEntry(DevKeyID)
	if err != nil {
		return nil, false, err
	}
	won, err := writeExclusive(path, entry+"\n")
	if err != nil {
		return nil, false, fmt.Errorf("development key file %s: %w", path, err)
	}
	ring, err = readKeyFile(path)
	return ring, won && err == nil, err
}

func readKeyFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("development key file: %w", err)
	}
	ring, err := ParseKeyring(strings.TrimSpace(string(b)), "")
	if err != nil {
		// The errors name entries as ENCRYPTION_KEYS ones; say which file.
		return nil, fmt.Errorf("development key file %s: %w", path, err)
	}
	return ring, nil
}

// writeExclusive writes content to a temporary file and links it to path, so
// readers never see a partial file and only one of several writers wins.
func writeExclusive(path, content string) (bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}
