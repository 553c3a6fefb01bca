-- +goose Up
-- The PostgreSQL read model, written in the same transaction as the append.
CREATE TABLE tenants (
    tenant_id    uuid PRIMARY KEY,
    name         text NOT NULL,
    external_ref text NOT NULL DEFAULT '',
    status       text NOT NULL,
    version      bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    state        jsonb NOT NULL          -- domain.State; secrets only as ciphertext
);
CREATE INDEX tenants_status_created ON tenants (status, created_at, tenant_id);
CREATE INDEX tenants_created ON tenants (created_at, tenant_id);

-- A phone number or integration id maps to at most one live tenant; the
-- primary keys enforce it.
CREATE TABLE phone_number_claims (
    phone_number_id text PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (tenant_id),
    waba_id         text NOT NULL
);
CREATE INDEX phone_number_claims_tenant ON phone_number_claims (tenant_id);

CREATE TABLE integration_claims (
    integration_id text PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (tenant_id)
);
CREATE INDEX integration_claims_tenant ON integration_claims (tenant_id);

-- +goose Down
DROP TABLE integration_claims, phone_number_claims, tenants;
