package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"tenant-service/domain"
	"tenant-service/projections"
)

// workload drives random but valid commands over many tenants, so phone
// numbers and integration ids move between tenants and tenants get deleted.
type workload struct {
	f            *redisFixture
	rng          *rand.Rand
	all          []domain.TenantID
	live         []domain.TenantID
	freePhones   []string
	freeInts     []string
	nextPhone    int
	nextInt      int
	commandCount int
}

func (w *workload) pick() domain.TenantID { return w.live[w.rng.IntN(len(w.live))] }

func (w *workload) phone() string {
	if len(w.freePhones) > 0 && w.rng.IntN(2) == 0 {
		i := w.rng.IntN(len(w.freePhones))
		p := w.freePhones[i]
		w.freePhones = slices.Delete(w.freePhones, i, i+1)
		return p
	}
	w.nextPhone++
	return fmt.Sprintf("phone-%d", w.nextPhone)
}

func (w *workload) integration() string {
	if len(w.freeInts) > 0 && w.rng.IntN(2) == 0 {
		i := w.rng.IntN(len(w.freeInts))
		v := w.freeInts[i]
		w.freeInts = slices.Delete(w.freeInts, i, i+1)
		return v
	}
	w.nextInt++
	return fmt.Sprintf("integration-%d", w.nextInt)
}

// step runs one random command.
func (w *workload) step() {
	w.commandCount++
	if len(w.live) < 5 || w.rng.IntN(8) == 0 {
		id := w.f.create(fmt.Sprintf("tenant %d", len(w.all)))
		w.all, w.live = append(w.all, id), append(w.live, id)
		return
	}
	id := w.pick()
	st, err := w.f.tenants.Get(context.Background(), id)
	if err != nil {
		w.f.t.Fatal(err)
	}
	switch op := w.rng.IntN(10); {
	case op < 3:
		waba := "waba-" + string(id[len(id)-8:])
		p := w.phone()
		w.f.exec(id, func(t *domain.Tenant) error {
			return t.LinkWABA(domain.WABALinked{WABAID: waba, PhoneNumberID: p, DisplayPhoneNumber: "+" + p})
		})
	case op < 4 && len(st.PhoneNumberIDs()) > 0:
		p := st.PhoneNumberIDs()[w.rng.IntN(len(st.PhoneNumberIDs()))]
		w.f.exec(id, func(t *domain.Tenant) error { return t.UnlinkWABA(p) })
		w.freePhones = append(w.freePhones, p)
	case op < 5:
		in := w.integration()
		w.f.exec(id, func(t *domain.Tenant) error { return t.LinkGenesysIntegration(in, nil) })
		if old := st.IntegrationID(); old != "" && old != in {
			w.freeInts = append(w.freeInts, old)
		}
	case op < 6:
		w.f.exec(id, func(t *domain.Tenant) error {
			return t.SetGenesysCredentials(fmt.Sprintf("client-%d", w.rng.IntN(1000)), "mypurecloud.com", secret("secret-value"))
		})
	case op < 7:
		w.f.exec(id, func(t *domain.Tenant) error {
			if st.Status == domain.StatusSuspended {
				return t.Reactivate("")
			}
			return t.Suspend("")
		})
	case op < 8:
		name := fmt.Sprintf("renamed %d", w.rng.IntN(1000))
		w.f.exec(id, func(t *domain.Tenant) error { return t.Update(domain.UpdateTenant{Name: &name}) })
	case op < 9 && len(w.live) > 8:
		w.f.exec(id, func(t *domain.Tenant) error { return t.Delete("") })
		w.freePhones = append(w.freePhones, st.PhoneNumberIDs()...)
		if in := st.IntegrationID(); in != "" {
			w.freeInts = append(w.freeInts, in)
		}
		w.live = slices.DeleteFunc(w.live, func(x domain.TenantID) bool { return x == id })
	default:
		w.f.exec(id, func(t *domain.Tenant) error {
			return t.StoreWhatsAppToken(secret("token-value"), nil, "manual")
		})
	}
}

// dumpRedis returns every tenant:* key of the prefix (without it) and its value.
func (f *redisFixture) dumpRedis() map[string]string {
	f.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := f.rdb.Scan(ctx, 0, f.prefix+projections.KeyTenant+"*", 500).Iterator()
	for iter.Next(ctx) {
		v, err := f.rdb.Get(ctx, iter.Val()).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		out[strings.TrimPrefix(iter.Val(), f.prefix)] = v
	}
	if err := iter.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// dumpPG returns the tenants rows and both claim tables as text.
func (f *redisFixture) dumpPG() []string {
	f.t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT concat_ws('|', tenant_id, name, external_ref, status, version, created_at, updated_at, state::text) FROM tenants ORDER BY tenant_id`,
		`SELECT concat_ws('|', phone_number_id, tenant_id, waba_id) FROM phone_number_claims ORDER BY phone_number_id`,
		`SELECT concat_ws('|', integration_id, tenant_id) FROM integration_claims ORDER BY integration_id`,
	} {
		rows, err := f.pool.Query(context.Background(), q)
		if err != nil {
			f.t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				f.t.Fatal(err)
			}
			out = append(out, s)
		}
		rows.Close()
	}
	return out
}

// expectedRedis derives the Redis read model from the PostgreSQL states.
func (f *redisFixture) expectedRedis(ids []domain.TenantID) map[string]string {
	f.t.Helper()
	states, err := f.tenants.States(context.Background(), ids)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	put := func(key string, c projections.Context) {
		raw, _ := json.Marshal(c)
		out[strings.TrimPrefix(key, f.prefix)] = string(raw)
	}
	for _, st := range states {
		if st.Status == domain.StatusDeleted {
			continue
		}
		put(f.keys.Tenant(st.TenantID), projections.ContextFromState(st, ""))
		for _, p := range st.PhoneNumberIDs() {
			put(f.keys.Phone(p), projections.ContextFromState(st, p))
		}
		if in := st.IntegrationID(); in != "" {
			put(f.keys.Integration(in), projections.ContextFromState(st, ""))
		}
	}
	return out
}

func diffMaps(got, want map[string]string) error {
	var problems []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			problems = append(problems, "missing "+k)
		} else if g != v {
			problems = append(problems, fmt.Sprintf("%s = %s, want %s", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected "+k)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%d differences, e.g. %s", len(problems), strings.Join(problems[:min(len(problems), 3)], "; "))
	}
	return nil
}
