-- +goose Up
-- One data key (AES-256) per tenant, wrapped (AES-256-GCM) by the
-- key-encryption key kek_id from ENCRYPTION_KEYS; see vault/doc.go. Data keys
-- never appear in events. Destroying a tenant's key (crypto-shredding) erases
-- wrapped and keeps the row, with kek_id and destroyed_at, as the audit record
-- and as a tombstone that stops a new key being created for the tenant.
-- No foreign key to tenants: read models are rebuilt; this table is not.
CREATE TABLE data_keys (
    tenant_id    uuid PRIMARY KEY,
    kek_id       text,
    wrapped      bytea,
    created_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    destroyed_at timestamptz,
    CONSTRAINT data_keys_live_or_destroyed CHECK (
        (destroyed_at IS NULL AND wrapped IS NOT NULL AND kek_id IS NOT NULL)
        OR (destroyed_at IS NOT NULL AND wrapped IS NULL))
);

-- +goose Down
DROP TABLE data_keys;
