package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// States returns the current state of each listed tenant that has a row, in
// one query. Deleted tenants are included, with their final state.
func (m *Tenants) States(ctx context.Context, ids []domain.TenantID) (map[domain.TenantID]domain.State, error) {
	out := make(map[domain.TenantID]domain.State, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = string(id)
	}
	rows, err := m.pool.Query(ctx, `SELECT state FROM tenants WHERE tenant_id = ANY($1::uuid[])`, postgres.PlanEachTime, ss)
	if err != nil {
		return nil, fmt.Errorf("load tenant states: %w", err)
	}
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
		var s domain.State
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		out[s.TenantID] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load tenant states: %w", err)
	}
	return out, nil
}
