package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// fold is the tenants read model computed in memory from the log: every
// tenant's state, folded event by event as Inline folds them.
type fold struct {
	tenants  map[domain.TenantID]*folded
	position domain.Position // the log is folded up to here
	// touched, when not nil, collects the tenants the events change.
	touched map[domain.TenantID]bool
	// final is each tenant's version at the end of the first read, so
	// progress can count the tenants that are complete; done counts them.
	final    map[domain.TenantID]domain.Version
	done     int64
	progress func(done, total int64)
}

// folded is one tenant's state and when its first event occurred (the
// row's created_at, which appends never change).
type folded struct {
	state   domain.State
	firstAt time.Time
}

func newFold(progress func(done, total int64)) *fold {
	return &fold{tenants: map[domain.TenantID]*folded{}, progress: progress}
}

// expect sets the version each tenant ends at in the events about to be
// folded, for progress, and reports that none is done yet.
func (f *fold) expect(final map[domain.TenantID]domain.Version) {
	f.final, f.done = final, 0
	f.report(f.done, int64(len(final)))
}

func (f *fold) report(done, total int64) {
	if f.progress != nil {
		f.progress(done, total)
	}
}

// apply folds one event into its tenant's state. Events must come in
// position order, so each stream's in version order without gaps.
func (f *fold) apply(se domain.StoredEvent) error {
	t := f.tenants[se.TenantID]
	if t == nil {
		t = &folded{firstAt: se.OccurredAt}
		f.tenants[se.TenantID] = t
	}
	if se.Version != t.state.Version+1 {
		return fmt.Errorf("fold %s: event version %d after state version %d", se.TenantID, se.Version, t.state.Version)
	}
	e, err := se.Decode()
	if err != nil {
		return fmt.Errorf("fold %s: %w", se.TenantID, err)
	}
	t.state.Apply(e, se.OccurredAt)
	if f.touched != nil {
		f.touched[se.TenantID] = true
	}
	if v, ok := f.final[se.TenantID]; ok && v == t.state.Version {
		f.done++
		f.report(f.done, int64(len(f.final)))
	}
	return nil
}

var (
	tenantColumns      = []string{"tenant_id", "name", "external_ref", "status", "version", "created_at", "updated_at", "state"}
	phoneColumns       = []string{"phone_number_id", "tenant_id", "waba_id"}
	integrationColumns = []string{"integration_id", "tenant_id"}
)

// rows are the rows of the three tables for some tenants, as appends write
// them. The tenant rows are encoded as they are copied, so the states are
// not held twice.
type rows struct {
	tenants      pgx.CopyFromSource
	phones       [][]any // phone_number_id, tenant_id, waba_id
	integrations [][]any // integration_id, tenant_id
}

// rowsOf returns the rows of the listed tenants (every tenant when ids is
// nil): the row from the state, and the claims of a live tenant
// (PhoneNumberIDs and IntegrationID hold nothing once deleted). A value
// claimed twice among them is a ClaimError: appends would have refused the
// second claim.
func (f *fold) rowsOf(ids map[domain.TenantID]bool) (rows, error) {
	var out rows
	var list []domain.TenantID
	phoneOwner, intOwner := map[string]domain.TenantID{}, map[string]domain.TenantID{}
	for id, t := range f.tenants {
		if ids != nil && !ids[id] {
			continue
		}
		list = append(list, id)
		s := &t.state
		for _, p := range s.PhoneNumberIDs() {
			if owner, ok := phoneOwner[p]; ok {
				return rows{}, &ClaimError{Value: p, Owner: owner}
			}
			phoneOwner[p] = id
			phone, _ := s.WhatsApp.Phone(p)
			out.phones = append(out.phones, []any{p, string(id), phone.WABAID})
		}
		if in := s.IntegrationID(); in != "" {
			if owner, ok := intOwner[in]; ok {
				return rows{}, &ClaimError{Value: in, Owner: owner, Integration: true}
			}
			intOwner[in] = id
			out.integrations = append(out.integrations, []any{in, string(id)})
		}
	}
	out.tenants = pgx.CopyFromFunc(func() ([]any, error) {
		if len(list) == 0 {
			return nil, nil
		}
		id := list[0]
		list = list[1:]
		t := f.tenants[id]
		s := &t.state
		raw, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", id, err)
		}
		return []any{string(id), s.Name, s.ExternalRef, string(s.Status), int64(s.Version), t.firstAt, s.UpdatedAt, raw}, nil
	})
	return out, nil
}
