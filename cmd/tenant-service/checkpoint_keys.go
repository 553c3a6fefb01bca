package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// signingKey returns the Ed25519 key of CHECKPOINT_SIGNING_KEY.
func signingKey(cfg Config) (ed25519.PrivateKey, error) {
	if cfg.CheckpointSigningKey == "" {
		return nil, errors.New("CHECKPOINT_SIGNING_KEY is not set (tenant-service keys generate-signing prints a pair)")
	}
	seed, err := base64.StdEncoding.DecodeString(cfg.CheckpointSigningKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("CHECKPOINT_SIGNING_KEY must be the base64 of %d bytes", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// trustedKey returns the public key checkpoints are verified with: the
// --public-key flag, else CHECKPOINT_PUBLIC_KEY, else the one of
// CHECKPOINT_SIGNING_KEY.
func trustedKey(cfg Config, flag string) (ed25519.PublicKey, error) {
	raw := flag
	if raw == "" {
		raw = cfg.CheckpointPublicKey
	}
	if raw == "" {
		key, err := signingKey(cfg)
		if err != nil {
			return nil, errors.New("checking a checkpoint needs the public key you trust: pass --public-key or set CHECKPOINT_PUBLIC_KEY")
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	pub, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the checkpoint public key must be the base64 of %d bytes", ed25519.PublicKeySize)
	}
	return pub, nil
}

// generateSigningKeys returns a new pair as environment lines.
func generateSigningKeys() (string, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	return fmt.Sprintf("CHECKPOINT_SIGNING_KEY=%s\nCHECKPOINT_PUBLIC_KEY=%s\n",
		base64.StdEncoding.EncodeToString(key.Seed()), base64.StdEncoding.EncodeToString(pub)), nil
}
