package tenants_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/internal/testkit"
	"tenant-service/metagraph"
	"tenant-service/tenants"
)

// The fakes below stand in for the Service's ports with the behaviour the
// real adapters promise in their doc comments (eventstore.Repository,
// projections.Tenants and Resolver, vault.Vault, the genesys token Provider,
// the metagraph Client, the rate limiter), in memory, so the use cases are
// tested without PostgreSQL, Redis, RabbitMQ, Meta or Genesys.

// The fakes implement the ports; a change of a port's method set fails the
// build here rather than in some test's setup.
var (
	_ tenants.Store    = (*memStore)(nil)
	_ tenants.Tenants  = (*memStore)(nil)
	_ tenants.History  = (*memStore)(nil)
	_ tenants.Resolver = (*memResolver)(nil)
	_ tenants.Vault    = (*fakeVault)(nil)
	_ tenants.Tokens   = (*fakeTokens)(nil)
	_ tenants.Graph    = (*fakeGraph)(nil)
	_ tenants.Limiter  = (*fakeLimiter)(nil)
)

// switchboard is shared by every fake: it records each port call in order
// and returns the error a test injected for that call. One mechanism lets a
// test assert order (sealed before appended), absence (a refused request
// reached no port) and a dependency being down, whichever port it is.
type switchboard struct {
	mu   sync.Mutex
	log  []string
	fail map[string]error
}

// enter records a call named "port.Method" (detail, if any, after a space)
// and returns the error injected for "port.Method".
func (s *switchboard) enter(name string, detail ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, strings.Join(append([]string{name}, detail...), " "))
	return s.fail[name]
}

// Fail makes every later call of "port.Method" return err (nil: succeed).
func (s *switchboard) Fail(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]error{}
	}
	s.fail[name] = err
}

// Reset forgets the calls recorded so far, so a test can look only at what
// the call under test did after its setup.
func (s *switchboard) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Calls returns the recorded calls that start with prefix ("" for all).
func (s *switchboard) Calls(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.log {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// Index returns the position of the first call starting with prefix, or -1.
func (s *switchboard) Index(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.IndexFunc(s.log, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// Errors the fakes answer with, shaped like the real adapters' ones.
var (
	// errDown is what postgres.Classify (and the Redis adapters) make of an
	// unreachable dependency.
	errDown = &domain.Error{Kind: domain.KindUnavailable, Code: "dependency-unavailable",
		Detail: "a service this request needs is unavailable; retry later"}
	// errShredded is vault.ErrShredded: the tenant's data key is destroyed.
	errShredded = &domain.Error{Kind: domain.KindRefused, Code: "secrets-shredded",
		Detail: "the tenant's data key was destroyed (crypto-shredding); its secrets can no longer be read or stored"}
	// errIdempotencyMismatch is eventstore.ErrIdempotencyMismatch.
	errIdempotencyMismatch = &domain.Error{Kind: domain.KindRefused, Code: "idempotency-key-reused",
		Detail: "this Idempotency-Key was already used for a different request"}
)

// claimError is the read model's projections.ClaimError, which the real
// Store returns from the append when another live tenant holds a phone
// number or integration id; the Service recognises it by its DomainError
// method only, so this copy of its shape is what the Service sees.
type claimError struct {
	Value       string
	Owner       domain.TenantID
	Integration bool
}

func (e *claimError) Error() string {
	return fmt.Sprintf("%s already belongs to tenant %s", e.Value, e.Owner)
}

// DomainError is the 409 the client sees, naming the owner only when asked.
func (e *claimError) DomainError(showOwner bool) *domain.Error {
	code := "phone-number-taken"
	if e.Integration {
		code = "integration-taken"
	}
	detail := e.Value + " already belongs to another tenant"
	if showOwner {
		detail = fmt.Sprintf("%s already belongs to tenant %s", e.Value, e.Owner)
	}
	return &domain.Error{Kind: domain.KindConflict, Code: code, Detail: detail, Err: e}
}

// memStore is the event store and its inline read model in one: Execute
// keeps the Repository's contract (load by replaying the JSON-encoded
// stream, If-Match, decide, claims checked in the append, idempotency
// scopes, crypto-shredding with TenantDeleted) and updates the tenants read
// model in the same critical section, as the real append does in one
// transaction. It implements tenants.Store, tenants.Tenants and
// tenants.History.
type memStore struct {
	sb    *switchboard
	clock *testkit.Clock
	shred func(domain.TenantID) // destroys the data key, as the append of TenantDeleted does
	// lostRaces is how many appends of each command lose the race to another
	// writer: without If-Match the Repository then decides again on the
	// reloaded tenant, so decide must be safe to run more than once.
	lostRaces int

	mu      sync.Mutex
	streams map[domain.TenantID][]domain.StoredEvent
	states  map[domain.TenantID]domain.State // the tenants read model
	created []domain.TenantID                // creation order, for List
	feed    []domain.StoredEvent
	scopes  map[string]idempotent
}

type idempotent struct {
	hash    []byte
	id      domain.TenantID
	version domain.Version
}

func newMemStore(sb *switchboard, clock *testkit.Clock, shred func(domain.TenantID)) *memStore {
	return &memStore{sb: sb, clock: clock, shred: shred, streams: map[domain.TenantID][]domain.StoredEvent{},
		states: map[domain.TenantID]domain.State{}, scopes: map[string]idempotent{}}
}

// Create is Execute: a fresh id loads as no tenant, which is what the real
// store's Create assumes without reading.
func (s *memStore) Create(ctx context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (domain.Outcome, error) {
	return s.Execute(ctx, id, w, decide)
}

func (s *memStore) Execute(_ context.Context, id domain.TenantID, w domain.Write, decide func(*domain.Tenant) error) (domain.Outcome, error) {
	if err := s.sb.enter("store.Execute"); err != nil {
		return domain.Outcome{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.Idempotency != nil {
		if seen, ok := s.scopes[w.Idempotency.Scope]; ok {
			if !bytes.Equal(seen.hash, w.Idempotency.RequestHash) {
				return domain.Outcome{}, errIdempotencyMismatch
			}
			t, err := s.load(seen.id, seen.version, time.Time{})
			if err != nil {
				return domain.Outcome{}, err
			}
			return domain.Outcome{State: t.State(), Duplicate: true}, nil
		}
	}
	var t *domain.Tenant
	var now time.Time
	for attempt := 0; ; attempt++ {
		var err error
		if t, err = s.load(id, 0, time.Time{}); err != nil {
			return domain.Outcome{}, err
		}
		now = s.clock.Now().UTC()
		if last := t.State().UpdatedAt; now.Before(last) {
			now = last
		}
		t.Clock = func() time.Time { return now }
		if w.IfMatch != nil && *w.IfMatch != t.Version() {
			if t.Version() == 0 {
				return domain.Outcome{}, domain.ErrTenantNotFound
			}
			return domain.Outcome{}, domain.StaleVersion(*w.IfMatch, t.Version())
		}
		if err := decide(t); err != nil {
			return domain.Outcome{}, err
		}
		if len(t.Pending()) == 0 {
			return domain.Outcome{State: t.State()}, nil
		}
		if attempt >= s.lostRaces {
			break
		}
		if w.IfMatch != nil { // the Repository answers a lost race with 412 then
			return domain.Outcome{}, domain.StaleVersion(*w.IfMatch, t.Version()+1)
		}
		// Lost the race to another writer: decide again on the fresh state.
	}
	state := t.State()
	if err := s.claims(id, state); err != nil {
		return domain.Outcome{}, err
	}
	var stored []domain.StoredEvent
	var types []string
	for i, e := range t.Pending() {
		name, schema, data, err := domain.EncodeEvent(e)
		if err != nil {
			return domain.Outcome{}, err
		}
		pos := domain.Position(len(s.feed) + len(stored) + 1)
		stored = append(stored, domain.StoredEvent{EventID: fmt.Sprintf("event-%d", pos), StreamID: id.StreamID(),
			TenantID: id, Type: name, Version: t.Version() + domain.Version(i+1), Position: pos, OccurredAt: now,
			SchemaVersion: schema, Data: data, Metadata: w.Metadata})
		types = append(types, name)
	}
	s.sb.enter("store.append", types...)
	if t.Version() == 0 {
		s.created = append(s.created, id)
	}
	s.streams[id] = append(s.streams[id], stored...)
	s.feed = append(s.feed, stored...)
	s.states[id] = state
	if state.Status == domain.StatusDeleted && s.shred != nil {
		s.shred(id)
	}
	if w.Idempotency != nil {
		s.scopes[w.Idempotency.Scope] = idempotent{hash: w.Idempotency.RequestHash, id: id, version: state.Version}
	}
	return domain.Outcome{State: state, Events: stored}, nil
}

// load replays the stream from its stored JSON, so every event a command
// records must survive encoding, as in the real store.
func (s *memStore) load(id domain.TenantID, upTo domain.Version, asOf time.Time) (*domain.Tenant, error) {
	t := domain.NewTenant(s.clock.Now)
	for _, se := range s.streams[id] {
		if (upTo > 0 && se.Version > upTo) || (!asOf.IsZero() && se.OccurredAt.After(asOf)) {
			break
		}
		e, err := se.Decode()
		if err != nil {
			return nil, err
		}
		t.Replay(e, se.OccurredAt)
	}
	return t, nil
}

// claims refuses a state that claims a phone number or integration id
// another live tenant holds, as the inline projection does in the append.
func (s *memStore) claims(id domain.TenantID, after domain.State) error {
	for _, other := range s.created {
		if other == id {
			continue
		}
		st := s.states[other]
		for _, p := range after.PhoneNumberIDs() {
			if slices.Contains(st.PhoneNumberIDs(), p) {
				return &claimError{Value: p, Owner: other}
			}
		}
		if in := after.IntegrationID(); in != "" && st.IntegrationID() == in {
			return &claimError{Value: in, Owner: other, Integration: true}
		}
	}
	return nil
}

func (s *memStore) StateAt(_ context.Context, id domain.TenantID, upTo domain.Version, asOf time.Time) (domain.State, error) {
	if err := s.sb.enter("store.StateAt"); err != nil {
		return domain.State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.load(id, upTo, asOf)
	if err != nil {
		return domain.State{}, err
	}
	return t.State(), nil
}

// Events returns a copy of the tenant's stream, for assertions.
func (s *memStore) Events(id domain.TenantID) []domain.StoredEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.streams[id])
}

// State returns the read model's row of the tenant, for assertions.
func (s *memStore) State(id domain.TenantID) domain.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[id].Clone()
}

// Get, List, OwnerOfPhone and HoldersOfWABA are the tenants read model.

func (s *memStore) Get(_ context.Context, id domain.TenantID) (domain.State, error) {
	if err := s.sb.enter("tenants.Get"); err != nil {
		return domain.State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[id]
	if !ok {
		return domain.State{}, domain.ErrTenantNotFound
	}
	return st.Clone(), nil
}

// List pages by tenant id (the real cursor is opaque too); default: all but
// deleted.
func (s *memStore) List(_ context.Context, statuses []domain.Status, search, cursor string, limit int) ([]domain.State, string, error) {
	if err := s.sb.enter("tenants.List"); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.State
	past := cursor == ""
	for _, id := range s.created {
		st := s.states[id]
		switch {
		case !past:
			past = string(id) == cursor
		case len(statuses) == 0 && st.Status == domain.StatusDeleted, len(statuses) > 0 && !slices.Contains(statuses, st.Status):
		case search != "" && !strings.Contains(strings.ToLower(st.Name+"\x00"+st.ExternalRef), strings.ToLower(search)):
		case len(out) == limit:
			return out, string(out[len(out)-1].TenantID), nil
		default:
			out = append(out, st.Clone())
		}
	}
	return out, "", nil
}

func (s *memStore) OwnerOfPhone(_ context.Context, phoneNumberID string) (domain.TenantID, error) {
	if err := s.sb.enter("tenants.OwnerOfPhone", phoneNumberID); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.created {
		if st := s.states[id]; slices.Contains(st.PhoneNumberIDs(), phoneNumberID) {
			return id, nil
		}
	}
	return "", domain.ErrTenantNotFound
}

func (s *memStore) HoldersOfWABA(_ context.Context, wabaID string) ([]domain.TenantID, error) {
	if err := s.sb.enter("tenants.HoldersOfWABA", wabaID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.TenantID
	for _, id := range s.created {
		st := s.states[id]
		if len(st.PhoneNumberIDs()) > 0 && st.WhatsApp.WABAID == wabaID {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ReadStreamPage and ReadFeed are the event store's Reader.

func (s *memStore) ReadStreamPage(_ context.Context, streamID string, after domain.Version, limit int, f domain.EventFilter) (domain.EventPage, error) {
	if err := s.sb.enter("history.ReadStreamPage"); err != nil {
		return domain.EventPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := domain.TenantID(strings.TrimPrefix(streamID, domain.StreamPrefix))
	return page(s.streams[id], limit, f, func(e domain.StoredEvent) (bool, int64) {
		return e.Version > after, int64(e.Version)
	}), nil
}

func (s *memStore) ReadFeed(_ context.Context, after domain.Position, limit int, f domain.EventFilter) (domain.EventPage, error) {
	if err := s.sb.enter("history.ReadFeed"); err != nil {
		return domain.EventPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := page(s.feed, limit, f, func(e domain.StoredEvent) (bool, int64) { return e.Position > after, int64(e.Position) })
	p.Head = domain.Position(len(s.feed))
	return p, nil
}

// page returns up to limit events past the cursor that match f, and the
// cursor of the next page when more remain.
func page(events []domain.StoredEvent, limit int, f domain.EventFilter, past func(domain.StoredEvent) (bool, int64)) domain.EventPage {
	var p domain.EventPage
	var last int64
	for _, e := range events {
		ok, cursor := past(e)
		if !ok || !matches(e, f) {
			continue
		}
		if len(p.Events) == limit {
			p.Next = last
			break
		}
		p.Events, last = append(p.Events, e), cursor
	}
	return p
}

func matches(e domain.StoredEvent, f domain.EventFilter) bool {
	return (f.TenantID == "" || e.TenantID == f.TenantID) &&
		(len(f.Types) == 0 || slices.Contains(f.Types, e.Type)) &&
		(f.Actor == "" || e.Metadata.Actor == f.Actor) &&
		(f.From.IsZero() || !e.OccurredAt.Before(f.From)) &&
		(f.To.IsZero() || e.OccurredAt.Before(f.To))
}

// memResolver answers lookups from the read model, like the Resolver on a
// Redis miss. stale stands in for a Redis entry that outlived a change (the
// case the Service guards against by checking the data key itself).
type memResolver struct {
	sb    *switchboard
	store *memStore

	mu    sync.Mutex
	stale map[domain.TenantID]domain.State
	mins  []domain.Position // the min of every call, in order
}

// Stale makes WhatsAppToken answer st for its tenant, whatever happens next.
func (r *memResolver) Stale(st domain.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stale == nil {
		r.stale = map[domain.TenantID]domain.State{}
	}
	r.stale[st.TenantID] = st.Clone()
}

func (r *memResolver) enter(name, value string, min domain.Position) error {
	r.mu.Lock()
	r.mins = append(r.mins, min)
	r.mu.Unlock()
	return r.sb.enter(name, value)
}

// Mins returns the min positions the resolver was asked for.
func (r *memResolver) Mins() []domain.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mins)
}

// resolved stands in for the tenant context JSON; tests look only at its
// tenant id and version.
func resolved(st domain.State) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"tenantId":%q,"version":%d}`, st.TenantID, st.Version))
}

func (r *memResolver) ByPhoneNumber(_ context.Context, phoneNumberID string, min domain.Position) (json.RawMessage, error) {
	if err := r.enter("resolver.ByPhoneNumber", phoneNumberID, min); err != nil {
		return nil, err
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	for _, id := range r.store.created {
		if st := r.store.states[id]; slices.Contains(st.PhoneNumberIDs(), phoneNumberID) {
			return resolved(st), nil
		}
	}
	return nil, domain.ErrTenantNotFound
}

func (r *memResolver) ByIntegration(_ context.Context, integrationID string, min domain.Position) (json.RawMessage, error) {
	if err := r.enter("resolver.ByIntegration", integrationID, min); err != nil {
		return nil, err
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	for _, id := range r.store.created {
		if st := r.store.states[id]; st.IntegrationID() == integrationID {
			return resolved(st), nil
		}
	}
	return nil, domain.ErrTenantNotFound
}

func (r *memResolver) ByTenant(_ context.Context, id domain.TenantID, min domain.Position) (json.RawMessage, error) {
	if err := r.enter("resolver.ByTenant", string(id), min); err != nil {
		return nil, err
	}
	st := r.store.State(id)
	if !st.Exists() || st.Status == domain.StatusDeleted {
		return nil, domain.ErrTenantNotFound
	}
	return resolved(st), nil
}

// WhatsAppToken answers a deleted tenant with its deleted state, as the
// real one does from PostgreSQL.
func (r *memResolver) WhatsAppToken(_ context.Context, id domain.TenantID, min domain.Position) (domain.State, error) {
	if err := r.enter("resolver.WhatsAppToken", string(id), min); err != nil {
		return domain.State{}, err
	}
	r.mu.Lock()
	st, ok := r.stale[id]
	r.mu.Unlock()
	if ok {
		return st.Clone(), nil
	}
	if st = r.store.State(id); !st.Exists() {
		return domain.State{}, domain.ErrTenantNotFound
	}
	return st, nil
}

// sealed is one secret the fake vault sealed.
type sealed struct {
	Tenant    domain.TenantID
	Field     string
	Plaintext string
}

// fakeVault seals by handing out opaque ciphertexts that never contain the
// plaintext, and opens only with the tenant and field the value was sealed
// for (the real envelope binds both). It remembers what it sealed so tests
// can compare the events with the plaintexts.
type fakeVault struct {
	sb *switchboard

	mu        sync.Mutex
	seals     []sealed
	byCipher  map[string]sealed
	destroyed map[domain.TenantID]bool
}

func newFakeVault(sb *switchboard) *fakeVault {
	return &fakeVault{sb: sb, byCipher: map[string]sealed{}, destroyed: map[domain.TenantID]bool{}}
}

func (v *fakeVault) SealRef(_ context.Context, id domain.TenantID, field, plaintext string) (domain.SecretRef, error) {
	if err := v.sb.enter("vault.SealRef", field); err != nil {
		return domain.SecretRef{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.destroyed[id] {
		return domain.SecretRef{}, errShredded
	}
	s := sealed{Tenant: id, Field: field, Plaintext: plaintext}
	ct := fmt.Sprintf("v1.sealed.%04d", len(v.seals)+1)
	v.seals = append(v.seals, s)
	v.byCipher[ct] = s
	return domain.SecretRef{Ciphertext: ct, Hint: domain.SecretHint(plaintext)}, nil
}

func (v *fakeVault) OpenRef(_ context.Context, id domain.TenantID, field string, ref domain.SecretRef) (string, error) {
	if err := v.sb.enter("vault.OpenRef", field); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.destroyed[id] {
		return "", errShredded
	}
	s, ok := v.byCipher[ref.Ciphertext]
	if !ok || s.Tenant != id || s.Field != field {
		return "", fmt.Errorf("open %s for tenant %s: not a value sealed for them", field, id)
	}
	return s.Plaintext, nil
}

func (v *fakeVault) Live(_ context.Context, id domain.TenantID) error {
	if err := v.sb.enter("vault.Live"); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.destroyed[id] {
		return errShredded
	}
	return nil
}

// Destroy crypto-shreds the tenant: from now on nothing of it opens.
func (v *fakeVault) Destroy(id domain.TenantID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.destroyed[id] = true
}

// Seals returns what was sealed, in order.
func (v *fakeVault) Seals() []sealed {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seals)
}

// fakeTokens is the Genesys token provider: it hands out Issue and records
// the credentials it was asked with and the tenants it was told to forget.
type fakeTokens struct {
	sb    *switchboard
	Issue genesys.Token

	mu          sync.Mutex
	asked       []genesys.Credentials
	invalidated []string
}

func (f *fakeTokens) Token(_ context.Context, creds genesys.Credentials) (genesys.Token, error) {
	if err := f.sb.enter("tokens.Token", creds.TenantID); err != nil {
		return genesys.Token{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, creds)
	return f.Issue, nil
}

func (f *fakeTokens) Invalidate(_ context.Context, tenantID string) error {
	if err := f.sb.enter("tokens.Invalidate", tenantID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, tenantID)
	return nil
}

// Asked returns the credentials tokens were asked for with.
func (f *fakeTokens) Asked() []genesys.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

// Invalidated returns the tenants whose cached token was dropped.
func (f *fakeTokens) Invalidated() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.invalidated)
}

// fakeGraph answers Embedded Signup's Graph calls with the shapes of the
// metagraph Client: Token from the exchange, Info from debug_token, Numbers
// for the WABA. It records the WABA and token of the calls that carry them.
type fakeGraph struct {
	sb      *switchboard
	Token   metagraph.Token
	Info    metagraph.TokenInfo
	Numbers []metagraph.PhoneNumber
}

func (g *fakeGraph) ExchangeCode(_ context.Context, code string) (metagraph.Token, error) {
	if err := g.sb.enter("graph.ExchangeCode", code); err != nil {
		return metagraph.Token{}, err
	}
	return g.Token, nil
}

func (g *fakeGraph) DebugToken(_ context.Context, token string) (metagraph.TokenInfo, error) {
	if err := g.sb.enter("graph.DebugToken", token); err != nil {
		return metagraph.TokenInfo{}, err
	}
	return g.Info, nil
}

func (g *fakeGraph) SubscribeApp(_ context.Context, wabaID, token string) error {
	return g.sb.enter("graph.SubscribeApp", wabaID, token)
}

func (g *fakeGraph) PhoneNumbers(_ context.Context, wabaID, token string) ([]metagraph.PhoneNumber, error) {
	if err := g.sb.enter("graph.PhoneNumbers", wabaID, token); err != nil {
		return nil, err
	}
	return slices.Clone(g.Numbers), nil
}

// limitCall is one question put to the limiter.
type limitCall struct {
	ID  domain.TenantID
	Own *domain.RateLimit
}

// fakeLimiter records which tenant and which of its own limits it was asked
// about; a test makes it refuse through the switchboard.
type fakeLimiter struct {
	sb *switchboard

	mu    sync.Mutex
	calls []limitCall
}

func (l *fakeLimiter) CheckTenant(_ context.Context, id domain.TenantID, own *domain.RateLimit) error {
	l.mu.Lock()
	l.calls = append(l.calls, limitCall{ID: id, Own: own})
	l.mu.Unlock()
	return l.sb.enter("limiter.CheckTenant", string(id))
}

// Calls returns the questions asked so far.
func (l *fakeLimiter) Calls() []limitCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// Values the fixtures use throughout.
const (
	metaAppID     = "1234567890"
	metaAppSecret = "meta-app-secret-for-tests"
	verifyToken   = "verify-me-please"
	wabaID        = "100200300"
	// businessToken is what the fake Graph's code exchange returns: the
	// plaintext a signup must seal and never record.
	businessToken = "EAAG-business-token-PLAINTEXT-0001"
)

// harness is a Service wired to fresh fakes, and the fakes to look into.
type harness struct {
	svc      *tenants.Service
	sb       *switchboard
	clock    *testkit.Clock
	store    *memStore
	resolver *memResolver
	vault    *fakeVault
	tokens   *fakeTokens
	graph    *fakeGraph
	limiter  *fakeLimiter
}

// newHarness builds the Service on fakes with every optional port present
// and Meta configured; adjust may drop ports or change the configuration
// before New is called.
func newHarness(t *testing.T, adjust ...func(*tenants.Deps, *tenants.Config)) *harness {
	t.Helper()
	sb := &switchboard{}
	clock := testkit.NewClock()
	vault := newFakeVault(sb)
	store := newMemStore(sb, clock, vault.Destroy)
	h := &harness{sb: sb, clock: clock, store: store, vault: vault,
		resolver: &memResolver{sb: sb, store: store},
		tokens:   &fakeTokens{sb: sb, Issue: genesys.Token{AccessToken: "genesys-access-token", TokenType: "bearer", ExpiresIn: 3599}},
		graph: &fakeGraph{sb: sb, Token: metagraph.Token{AccessToken: businessToken, TokenType: "bearer"},
			Info: metagraph.TokenInfo{AppID: metaAppID, Type: "SYSTEM_USER", IsValid: true,
				ExpiresAt: testkit.Epoch.Add(60 * 24 * time.Hour),
				Scopes:    []string{metagraph.ScopeWhatsAppBusinessManagement, metagraph.ScopeWhatsAppBusinessMessaging},
				GranularScopes: []metagraph.GranularScope{
					{Scope: metagraph.ScopeWhatsAppBusinessManagement, TargetIDs: []string{wabaID}},
					{Scope: metagraph.ScopeWhatsAppBusinessMessaging, TargetIDs: []string{wabaID}}}},
			Numbers: []metagraph.PhoneNumber{
				{ID: "5550001", DisplayPhoneNumber: "+49 30 5550001", VerifiedName: "Acme Support", QualityRating: "GREEN"},
				{ID: "5550002", DisplayPhoneNumber: "+49 30 5550002", VerifiedName: "Acme Sales", QualityRating: "GREEN"}}},
		limiter: &fakeLimiter{sb: sb}}
	deps := tenants.Deps{Store: store, History: store, Tenants: store, Resolver: h.resolver, Vault: vault,
		Tokens: h.tokens, Graph: h.graph, Limiter: h.limiter}
	cfg := tenants.Config{MetaAppID: metaAppID, MetaAppSecret: metaAppSecret, MetaWebhookVerifyToken: verifyToken,
		Now: clock.Now, Log: testkit.Logger()}
	for _, a := range adjust {
		a(&deps, &cfg)
	}
	svc, err := tenants.New(deps, cfg)
	if err != nil {
		t.Fatalf("tenants.New: %v", err)
	}
	h.svc = svc
	return h
}

// Writes of the two kinds of caller: the claimConflict path names the owner
// of a claimed value to admins only.
var (
	asAdmin = domain.Write{Metadata: domain.Metadata{Actor: "admin:3f9a1c2b", ActorRole: tenants.RoleAdmin, RequestID: "req-admin"}}
	asUser  = domain.Write{Metadata: domain.Metadata{Actor: "tenant:77aa", ActorRole: "tenant", RequestID: "req-user"}}
)

// ifMatch returns w expecting version v.
func ifMatch(w domain.Write, v domain.Version) domain.Write {
	w.IfMatch = &v
	return w
}

// create makes a tenant through the Service and advances the clock, so
// each step of a test happens at its own instant.
func (h *harness) create(t *testing.T, name string) domain.TenantID {
	t.Helper()
	out, err := h.svc.Create(t.Context(), domain.CreateTenant{Name: name,
		Settings: domain.Settings{RateLimit: &domain.RateLimit{PerSecond: 5, Burst: 10}}}, asAdmin)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	h.clock.Advance(time.Second)
	return out.State.TenantID
}

// Secrets of the fixtures: long enough to get a hint, distinctive enough
// to be searched for in recorded events.
const (
	clientSecret  = "genesys-client-secret-PLAINTEXT-1"
	webhookSecret = "genesys-webhook-secret-PLAINTEXT-2"
	whatsAppToken = "EAAG-manual-token-PLAINTEXT-3"
)

// full makes a tenant with Genesys credentials, an integration and a
// WhatsApp number with a token: one every use case can act on.
func (h *harness) full(t *testing.T, name string) domain.TenantID {
	t.Helper()
	ctx := t.Context()
	id := h.create(t, name)
	if _, err := h.svc.SetGenesysCredentials(ctx, id, "client-"+name, clientSecret, "mypurecloud.de", asAdmin); err != nil {
		t.Fatalf("set credentials: %v", err)
	}
	if _, err := h.svc.LinkGenesysIntegration(ctx, id, "integration-"+name, webhookSecret, asAdmin); err != nil {
		t.Fatalf("link integration: %v", err)
	}
	if _, err := h.svc.LinkWhatsApp(ctx, id, domain.WABALinked{WABAID: wabaID, PhoneNumberID: "phone-" + name,
		DisplayPhoneNumber: "+49 30 1234"}, new(whatsAppToken), asAdmin); err != nil {
		t.Fatalf("link WhatsApp: %v", err)
	}
	h.clock.Advance(time.Second)
	return id
}

// wantError fails unless err is a *domain.Error of the kind (and, unless
// code is "", the code): the kind is what the HTTP layer maps to a status.
func wantError(t *testing.T, err error, kind domain.Kind, code string) *domain.Error {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want a *domain.Error of kind %d", err, err, kind)
	}
	if de.Kind != kind || (code != "" && de.Code != code) {
		t.Fatalf("error = kind %d code %q (%v), want kind %d code %q", de.Kind, de.Code, de, kind, code)
	}
	return de
}

// wantFields fails unless err is invalid input naming exactly these fields.
func wantFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	de := wantError(t, err, domain.KindInvalid, "invalid-request")
	var got []string
	for _, f := range de.Fields {
		got = append(got, f.Field)
	}
	if !slices.Equal(got, fields) {
		t.Fatalf("invalid fields = %q, want %q", got, fields)
	}
}

// typesOf returns the wire names of the events, in order.
func typesOf(events []domain.StoredEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// decode returns the typed event, failing the test if it does not decode.
func decode[E domain.Event](t *testing.T, se domain.StoredEvent) E {
	t.Helper()
	e, err := se.Decode()
	if err != nil {
		t.Fatalf("decode %s: %v", se.Type, err)
	}
	typed, ok := e.(E)
	if !ok {
		t.Fatalf("event %d is %T, want %T", se.Version, e, *new(E))
	}
	return typed
}
