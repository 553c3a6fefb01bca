package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// The shadow tables hold the rebuilt model until it replaces the live one.
// They are temporary tables of the rebuild's transaction: invisible to every
// other session, so concurrent rebuilds do not meet, and dropped with the
// transaction whether it commits or not.
const (
	shadowTenants      = "rebuild_tenants"
	shadowPhones       = "rebuild_phone_number_claims"
	shadowIntegrations = "rebuild_integration_claims"
)

// createShadow creates the shadow tables with the live tables' columns;
// indexShadow adds their keys.
func createShadow(ctx context.Context, tx pgx.Tx) error {
	for _, q := range []string{
		`CREATE TEMP TABLE ` + shadowTenants + ` (LIKE tenants INCLUDING DEFAULTS) ON COMMIT DROP`,
		`CREATE TEMP TABLE ` + shadowPhones + ` (LIKE phone_number_claims INCLUDING DEFAULTS) ON COMMIT DROP`,
		`CREATE TEMP TABLE ` + shadowIntegrations + ` (LIKE integration_claims INCLUDING DEFAULTS) ON COMMIT DROP`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("create shadow tables: %w", err)
		}
	}
	return nil
}

// indexShadow adds the live tables' primary keys (a value claimed twice
// fails as it would in the model) and indexes on the tenant, for the rows
// the catch-up rewrites, once the bulk is in: faster than maintaining them
// row by row. ANALYZE gives the planner the sizes for the swap's joins:
// autovacuum never analyzes temporary tables.
func indexShadow(ctx context.Context, tx pgx.Tx) error {
	for _, q := range []string{
		`ALTER TABLE ` + shadowTenants + ` ADD PRIMARY KEY (tenant_id)`,
		`ALTER TABLE ` + shadowPhones + ` ADD PRIMARY KEY (phone_number_id)`,
		`ALTER TABLE ` + shadowIntegrations + ` ADD PRIMARY KEY (integration_id)`,
		`CREATE INDEX ON ` + shadowPhones + ` (tenant_id)`,
		`CREATE INDEX ON ` + shadowIntegrations + ` (tenant_id)`,
		`ANALYZE ` + shadowTenants + `, ` + shadowPhones + `, ` + shadowIntegrations,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("index shadow tables: %w", err)
		}
	}
	return nil
}

// writeShadow copies rows into the shadow tables.
func writeShadow(ctx context.Context, tx pgx.Tx, r rows) error {
	for _, c := range []struct {
		table   string
		columns []string
		rows    pgx.CopyFromSource
	}{
		{shadowTenants, tenantColumns, r.tenants},
		{shadowPhones, phoneColumns, pgx.CopyFromRows(r.phones)},
		{shadowIntegrations, integrationColumns, pgx.CopyFromRows(r.integrations)},
	} {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, c.rows); err != nil {
			return fmt.Errorf("write %s: %w", c.table, err)
		}
	}
	return nil
}

// rewriteShadow replaces the shadow rows of the listed tenants by r.
func rewriteShadow(ctx context.Context, tx pgx.Tx, ids map[domain.TenantID]bool, r rows) error {
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, string(id))
	}
	for _, table := range []string{shadowPhones, shadowIntegrations, shadowTenants} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ANY($1::uuid[])`, list); err != nil {
			return fmt.Errorf("rewrite %s: %w", table, err)
		}
	}
	return writeShadow(ctx, tx, r)
}

// modelTables are the tables of the PostgreSQL read model, in the order
// lockModel locks them. Appends that read before they write lock them in
// the same order first (Tables, eventstore.LockedTables).
var modelTables = []string{"tenants", "phone_number_claims", "integration_claims"}

// Tables returns the read model's tables, for eventstore.LockedTables.
func (m *Tenants) Tables() []string { return modelTables }

// lockModel keeps appends out of the model until the transaction ends: a
// group commit writes its tenants' rows before it takes the head lock.
// EXCLUSIVE conflicts with every lock a write takes and with none a plain
// SELECT takes, so readers are never blocked. It waits for the appends that
// already wrote to the model to commit, so none of them holds a row the swap
// changes, and none can be waiting for the head the caller locks next.
func lockModel(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(modelTables, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock the model: %w", err)
	}
	return nil
}

// swapSQL makes the live tables equal to the shadow tables, changing only
// the rows that differ: a model that was right costs a read of both, and
// every statement keeps the live tables' indexes, constraints and foreign
// keys as the migrations made them. Claims that are not exactly in the
// shadow go first, so the primary keys never see a value held twice, and
// before the tenant rows they reference; the remaining claims then equal
// shadow rows, so inserting the shadow's claims adds only the missing ones.
// In one transaction, readers see the old model or the new one.
var swapSQL = []string{
	`DELETE FROM phone_number_claims c WHERE NOT EXISTS (SELECT FROM ` + shadowPhones + ` r
		WHERE r.phone_number_id = c.phone_number_id AND r.tenant_id = c.tenant_id AND r.waba_id = c.waba_id)`,
	`DELETE FROM integration_claims c WHERE NOT EXISTS (SELECT FROM ` + shadowIntegrations + ` r
		WHERE r.integration_id = c.integration_id AND r.tenant_id = c.tenant_id)`,
	`UPDATE tenants t SET name = r.name, external_ref = r.external_ref, status = r.status, version = r.version,
			created_at = r.created_at, updated_at = r.updated_at, state = r.state
		FROM ` + shadowTenants + ` r
		WHERE r.tenant_id = t.tenant_id AND (t.name, t.external_ref, t.status, t.version, t.created_at, t.updated_at, t.state)
			IS DISTINCT FROM (r.name, r.external_ref, r.status, r.version, r.created_at, r.updated_at, r.state)`,
	`INSERT INTO tenants (tenant_id, name, external_ref, status, version, created_at, updated_at, state)
		SELECT tenant_id, name, external_ref, status, version, created_at, updated_at, state FROM ` + shadowTenants + ` r
		WHERE NOT EXISTS (SELECT FROM tenants t WHERE t.tenant_id = r.tenant_id)`,
	// A row without events: no append wrote it, so the model has none.
	`DELETE FROM tenants t WHERE NOT EXISTS (SELECT FROM ` + shadowTenants + ` r WHERE r.tenant_id = t.tenant_id)`,
	`INSERT INTO phone_number_claims (phone_number_id, tenant_id, waba_id)
		SELECT phone_number_id, tenant_id, waba_id FROM ` + shadowPhones + ` ON CONFLICT (phone_number_id) DO NOTHING`,
	`INSERT INTO integration_claims (integration_id, tenant_id)
		SELECT integration_id, tenant_id FROM ` + shadowIntegrations + ` ON CONFLICT (integration_id) DO NOTHING`,
}

// swap replaces the live model by the shadow tables in tx, which must hold
// lockModel's lock.
func swap(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	for _, q := range swapSQL {
		b.Queue(q)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("swap in the rebuilt model: %w", err)
	}
	return nil
}
