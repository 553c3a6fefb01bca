package projections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// Tenants is the PostgreSQL read model: the tenants table and the
// phone-number and integration claims. Its primary keys make a phone number or
// integration id belong to at most one live tenant.
type Tenants struct {
	pool *pgxpool.Pool
}

// NewTenants returns the read model over a migrated database.
func NewTenants(pool *pgxpool.Pool) *Tenants { return &Tenants{pool: pool} }

// Inline returns the writes that fold one stream's new events into the
// tenant's row and claims, given the tenant's state before them. The event
// store runs them in the append's transaction (it is the store's inline
// projection); a claim another tenant holds refuses that append with a
// ClaimError.
func (m *Tenants) Inline(before domain.State, events []domain.StoredEvent) ([]postgres.Statement, error) {
	after, err := foldEvents(before, events)
	if err != nil || after.Version == before.Version {
		return nil, err
	}
	return writes(before, after)
}

// foldEvents applies the events that follow before's version to a copy of it.
// Events at or below that version are skipped (a replay over a row that is
// ahead); a gap is an error.
func foldEvents(before domain.State, events []domain.StoredEvent) (domain.State, error) {
	after := before.Clone()
	for _, se := range events {
		if se.Version != after.Version+1 {
			if se.Version <= after.Version {
				continue
			}
			return after, fmt.Errorf("project %s: event version %d after state version %d", se.TenantID, se.Version, after.Version)
		}
		e, err := se.Decode()
		if err != nil {
			return after, fmt.Errorf("project %s: %w", se.TenantID, err)
		}
		after.Apply(e, se.OccurredAt)
	}
	return after, nil
}

// writes are the statements that take the tenant's row and claims from
// before to after: the row, the lookups it no longer holds released, the new
// ones claimed.
func writes(before, after domain.State) ([]postgres.Statement, error) {
	id := string(after.TenantID)
	raw, err := json.Marshal(after)
	if err != nil {
		return nil, fmt.Errorf("project %s: encode row: %w", id, err)
	}
	stmts := []postgres.Statement{{
		SQL: `INSERT INTO tenants (tenant_id, name, external_ref, status, version, created_at, updated_at, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id) DO UPDATE SET name = $2, external_ref = $3, status = $4, version = $5,
				updated_at = $7, state = $8`,
		Args: []any{id, after.Name, after.ExternalRef, string(after.Status), int64(after.Version),
			after.CreatedAt, after.UpdatedAt, raw},
	}}
	oldPhones, newPhones := before.PhoneNumberIDs(), after.PhoneNumberIDs()
	if gone := without(oldPhones, newPhones); len(gone) > 0 {
		stmts = append(stmts, postgres.Statement{
			SQL:  `DELETE FROM phone_number_claims WHERE tenant_id = $1 AND phone_number_id = ANY($2)`,
			Args: []any{id, gone},
		})
	}
	for _, p := range without(newPhones, oldPhones) {
		phone, _ := after.WhatsApp.Phone(p)
		stmts = append(stmts, claim(`INSERT INTO phone_number_claims (phone_number_id, tenant_id, waba_id) VALUES ($1, $2, $3)
			ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = EXCLUDED.waba_id
			WHERE phone_number_claims.tenant_id = EXCLUDED.tenant_id`,
			`SELECT tenant_id::text FROM phone_number_claims WHERE phone_number_id = $1`, false,
			p, id, phone.WABAID))
	}
	oldInt, newInt := before.IntegrationID(), after.IntegrationID()
	if oldInt != "" && oldInt != newInt {
		stmts = append(stmts, postgres.Statement{
			SQL:  `DELETE FROM integration_claims WHERE tenant_id = $1 AND integration_id = $2`,
			Args: []any{id, oldInt},
		})
	}
	if newInt != "" && newInt != oldInt {
		stmts = append(stmts, claim(`INSERT INTO integration_claims (integration_id, tenant_id) VALUES ($1, $2)
			ON CONFLICT (integration_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id
			WHERE integration_claims.tenant_id = EXCLUDED.tenant_id`,
			`SELECT tenant_id::text FROM integration_claims WHERE integration_id = $1`, true,
			newInt, id))
	}
	return stmts, nil
}

// claim is the statement that claims value for tenant: it changes a row
// when the value is free (or already the tenant's) and none when another
// tenant holds it, which refuses the append with a ClaimError naming that
// tenant. A concurrent claimer waits on the primary key until the first
// commits, then sees its row.
func claim(insert, owner string, integration bool, value, tenant string, extra ...any) postgres.Statement {
	return postgres.Statement{
		SQL:        insert,
		Args:       append([]any{value, tenant}, extra...),
		MustAffect: true,
		Refused: func(ctx context.Context, q postgres.Querier) error {
			var got string
			err := q.QueryRow(ctx, owner, value).Scan(&got)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && got == tenant) {
				return nil // held by a write that did not commit, or released since: try again
			}
			if err != nil {
				return fmt.Errorf("claim %s: read owner: %w", value, err)
			}
			return &ClaimError{Value: value, Owner: domain.TenantID(got), Integration: integration}
		},
	}
}

// ClaimError reports a phone number or integration id that belongs to another live tenant.
type ClaimError struct {
	Value       string
	Owner       domain.TenantID
	Integration bool
}

func (e *ClaimError) Error() string {
	what := "phone number"
	if e.Integration {
		what = "integration id"
	}
	return fmt.Sprintf("%s %s already belongs to tenant %s", what, e.Value, e.Owner)
}

// DomainError returns the 409 the client sees; it names the owner only when showOwner.
func (e *ClaimError) DomainError(showOwner bool) *domain.Error {
	code, what := "phone-number-taken", "phone number"
	if e.Integration {
		code, what = "integration-taken", "integration id"
	}
	detail := fmt.Sprintf("%s %s already belongs to another tenant", what, e.Value)
	if showOwner {
		detail = fmt.Sprintf("%s %s already belongs to tenant %s", what, e.Value, e.Owner)
	}
	return &domain.Error{Kind: domain.KindConflict, Code: code, Detail: detail, Err: e}
}

func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Get returns the tenant's current state, or domain.ErrTenantNotFound.
func (m *Tenants) Get(ctx context.Context, id domain.TenantID) (_ domain.State, err error) {
	defer postgres.ClassifyOn(&err)
	var raw []byte
	err = m.pool.QueryRow(ctx, `SELECT state FROM tenants WHERE tenant_id = $1`, string(id)).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.State{}, domain.ErrTenantNotFound
	}
	if err != nil {
		return domain.State{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	var s domain.State
	if err := json.Unmarshal(raw, &s); err != nil {
		return domain.State{}, fmt.Errorf("get tenant %s: decode: %w", id, err)
	}
	return s, nil
}

// ByPhoneNumber returns the live tenant that holds the phone number.
func (m *Tenants) ByPhoneNumber(ctx context.Context, phoneNumberID string) (_ domain.State, err error) {
	defer postgres.ClassifyOn(&err)
	return m.byClaim(ctx, `SELECT t.state FROM phone_number_claims c JOIN tenants t USING (tenant_id) WHERE c.phone_number_id = $1`, phoneNumberID)
}

// ByIntegration returns the live tenant that holds the Genesys integration id.
func (m *Tenants) ByIntegration(ctx context.Context, integrationID string) (_ domain.State, err error) {
	defer postgres.ClassifyOn(&err)
	return m.byClaim(ctx, `SELECT t.state FROM integration_claims c JOIN tenants t USING (tenant_id) WHERE c.integration_id = $1`, integrationID)
}

func (m *Tenants) byClaim(ctx context.Context, q, value string) (domain.State, error) {
	var raw []byte
	err := m.pool.QueryRow(ctx, q, value).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.State{}, domain.ErrTenantNotFound
	}
	if err != nil {
		return domain.State{}, fmt.Errorf("resolve %s: %w", value, err)
	}
	var s domain.State
	if err := json.Unmarshal(raw, &s); err != nil {
		return domain.State{}, fmt.Errorf("resolve %s: decode: %w", value, err)
	}
	return s, nil
}

// ErrBadCursor is returned for a cursor this service did not issue.
var ErrBadCursor = domain.Invalid(domain.FieldError{Field: "cursor", Message: "is not a cursor this service issued"})

// List returns up to limit tenants with the given statuses (default: all but
// deleted) whose name or external reference contains search (any case;
// empty: every tenant), in creation order, after the opaque cursor of a
// previous page, and the cursor of the next page ("" on the last).
func (m *Tenants) List(ctx context.Context, statuses []domain.Status, search, cursor string, limit int) (_ []domain.State, _ string, err error) {
	defer postgres.ClassifyOn(&err)
	if len(statuses) == 0 {
		statuses = []domain.Status{domain.StatusActive, domain.StatusSuspended}
	}
	ss := make([]string, len(statuses))
	for i, s := range statuses {
		ss[i] = string(s)
	}
	after, afterID := time.Time{}, "00000000-0000-0000-0000-000000000000"
	if cursor != "" {
		var err error
		if after, afterID, err = decodeCursor(cursor); err != nil {
			return nil, "", ErrBadCursor
		}
	}
	// The search is a filter on the status/creation scan, not an index
	// lookup: a registry holds thousands of tenants, not millions.
	pattern := "%" + likeEscaper.Replace(search) + "%"
	rows, err := m.pool.Query(ctx, `SELECT state FROM tenants
		WHERE status = ANY($1) AND (created_at, tenant_id) > ($2, $3::uuid)
		AND ($5 = '' OR name ILIKE $6 OR external_ref ILIKE $6)
		ORDER BY created_at, tenant_id LIMIT $4`, postgres.PlanEachTime, ss, after, afterID, limit+1, search, pattern)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []domain.State
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, "", fmt.Errorf("list tenants: %w", err)
		}
		var s domain.State
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", fmt.Errorf("list tenants: decode: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, string(last.TenantID))
	}
	return out, next, nil
}

// likeEscaper makes a search term match literally in ILIKE (backslash is
// PostgreSQL's default escape character).
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, "", errors.New("bad cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", err
	}
	if _, err := domain.ParseTenantID(id); err != nil {
		return time.Time{}, "", err
	}
	return t, id, nil
}

// OwnerOfPhone returns the live tenant that holds the phone number.
func (m *Tenants) OwnerOfPhone(ctx context.Context, phoneNumberID string) (_ domain.TenantID, err error) {
	defer postgres.ClassifyOn(&err)
	return m.owner(ctx, `SELECT tenant_id::text FROM phone_number_claims WHERE phone_number_id = $1`, phoneNumberID)
}

// HoldersOfWABA returns every live tenant holding a linked number of the
// WABA (several tenants may hold numbers of one WABA), in id order.
func (m *Tenants) HoldersOfWABA(ctx context.Context, wabaID string) (_ []domain.TenantID, err error) {
	defer postgres.ClassifyOn(&err)
	rows, err := m.pool.Query(ctx, `SELECT DISTINCT tenant_id::text FROM phone_number_claims WHERE waba_id = $1 ORDER BY 1`, wabaID)
	if err != nil {
		return nil, fmt.Errorf("holders of WABA %s: %w", wabaID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[domain.TenantID])
	if err != nil {
		return nil, fmt.Errorf("holders of WABA %s: %w", wabaID, err)
	}
	return ids, nil
}

func (m *Tenants) owner(ctx context.Context, q, value string) (domain.TenantID, error) {
	var id string
	err := m.pool.QueryRow(ctx, q, value).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.ErrTenantNotFound
	}
	if err != nil {
		return "", fmt.Errorf("owner of %s: %w", value, err)
	}
	return domain.TenantID(id), nil
}
