package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// NotifyChannel is the LISTEN/NOTIFY channel an append signals with its last
// global position. Persisted in running readers: renaming it silences them.
const NotifyChannel = "es_events"

// InlineProjection is a read model written in the append's transaction, so
// it is never behind the store. Inline returns the statements that fold one
// append's events into it, given the stream's state before them; they run in
// the transaction of the append's group, pipelined with the other appends'.
// The events carry their stream versions and times; their global positions
// are not assigned yet (zero).
type InlineProjection interface {
	Inline(before domain.State, events []domain.StoredEvent) ([]Statement, error)
}

// LockedTables is an inline projection whose tables another transaction
// may lock in EXCLUSIVE mode, in the order Tables gives, while appends run
// (a rebuild swapping a recomputed model in). An append that reads before
// it writes (every group that does not only create streams) takes ROW
// EXCLUSIVE on them, in that order, right after BEGIN. Without it, a
// statement the group's connection prepares inside the transaction locks
// its table as PostgreSQL parses it, before the statements ahead of it
// run: a claim's table before the tenant's row. A rebuild holding the
// first table and waiting for the second then deadlocks with the group.
type LockedTables interface {
	InlineProjection
	Tables() []string
}

// Statement is one write an append makes beside its events; see
// postgres.Statement.
type Statement = postgres.Statement

// Querier runs queries outside the group's transaction; see postgres.Querier.
type Querier = postgres.Querier

// Config tunes the Store. The zero value is usable.
type Config struct {
	// Now stamps events. Default time.Now.
	Now func() time.Time
	// Inline are more projections written in every append's transaction,
	// after the read model: the vault's Shredder, which destroys a deleted
	// tenant's data key with TenantDeleted. Default none.
	Inline []InlineProjection
	// SnapshotEvery writes a snapshot of the stream's state (Append.State)
	// each time an append passes a multiple of this many versions, so
	// replays for time travel stay short. Default 500; negative: never.
	SnapshotEvery domain.Version
	// MaxGroup is how many appends commit together at most (group commit).
	// Default 64; 1 commits every append on its own.
	MaxGroup int
	// Committed, when set, runs after every commit of appends with the
	// events committed: the service wakes its own readers with it
	// (Notifier.Poke) without waiting for the NOTIFY, which reaches other
	// replicas at most every few milliseconds under load, and counts them.
	// It must not block or keep the slice.
	Committed func(events []domain.StoredEvent)
	// GroupCommitted, when set, runs after each group's transaction
	// commits and before its appends are answered, with how many appends
	// it committed and how long it took, from taking a connection to the
	// commit's answer (restarts included): the database's share of every
	// command in the group, WAL flush included. The service turns it into
	// metrics. It must not block.
	GroupCommitted func(appends int, took time.Duration)
	// GroupsInFlight is how many groups commit at once, each on a
	// connection of its own: one writes while another holds the head lock
	// and commits. Default 1: the head lock serialises the commits anyway,
	// and one group at a time makes the groups, and so the share of each
	// commit's flush, largest (measured: creates from 8 clients run fastest
	// with 1, then 2, then 3).
	GroupsInFlight int
	// TracerProvider, when set, traces every append (eventstore.append,
	// under the caller's span) and every group's transaction
	// (eventstore.commit). Default nil: no span.
	TracerProvider trace.TracerProvider
}

// Reader reads the event store: streams, the global feed, filtered pages
// and the head, and verifies, exports and checkpoints the log. It is safe
// for concurrent use.
type Reader struct {
	pool *pgxpool.Pool
	// explain, when set (by tests), is shown every page query before it runs.
	explain func(sql string, args []any)
}

// NewReader returns a Reader over a migrated database.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

// Store is the PostgreSQL event store: a Reader that also appends. It is
// safe for concurrent use.
type Store struct {
	*Reader
	now            func() time.Time
	inline         []InlineProjection
	lockTables     string // LOCK TABLE of the inline projections' LockedTables, or ""
	snapshotEvery  domain.Version
	groups         groups
	signal         signaller
	committed      func(events []domain.StoredEvent)
	groupCommitted func(appends int, took time.Duration)
	tracer         trace.Tracer // nil: tracing is off
}

// New returns a Store over a migrated database. readModel is the read model
// written in every append's transaction (the tenants table): appends without
// it would leave the read model behind, so it is required.
func New(pool *pgxpool.Pool, readModel InlineProjection, cfg Config) (*Store, error) {
	if pool == nil || readModel == nil {
		return nil, errors.New("event store: a pool and the inline read model are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 500
	}
	if cfg.MaxGroup < 0 || cfg.GroupsInFlight < 0 {
		return nil, errors.New("event store: MaxGroup and GroupsInFlight must be 0 (default) or more")
	}
	if cfg.MaxGroup == 0 {
		cfg.MaxGroup = 64
	}
	if cfg.GroupsInFlight == 0 {
		cfg.GroupsInFlight = 1
	}
	s := &Store{Reader: NewReader(pool), now: cfg.Now, inline: append([]InlineProjection{readModel}, cfg.Inline...),
		snapshotEvery: cfg.SnapshotEvery, committed: cfg.Committed,
		groupCommitted: cfg.GroupCommitted, groups: groups{max: cfg.MaxGroup, maxCommitters: cfg.GroupsInFlight}}
	var tables []string
	for _, p := range s.inline {
		if lt, ok := p.(LockedTables); ok {
			tables = append(tables, lt.Tables()...)
		}
	}
	if len(tables) > 0 {
		s.lockTables = "LOCK TABLE " + strings.Join(tables, ", ") + " IN ROW EXCLUSIVE MODE"
	}
	if cfg.TracerProvider != nil {
		s.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	return s, nil
}

// Idempotency makes an append safe to retry; see domain.Idempotency.
type Idempotency = domain.Idempotency

// Append is one atomic write to one stream.
type Append struct {
	StreamID        string
	TenantID        domain.TenantID
	ExpectedVersion domain.Version // the stream's version before this append; 0 creates it
	Events          []domain.Event
	OccurredAt      time.Time // default: the store's clock
	Metadata        domain.Metadata
	Idempotency     *Idempotency
	// Before is the stream's state at ExpectedVersion, as the caller loaded
	// it; the inline read model folds the events into it. Optional: without
	// it the store replays the stream (a round trip or two more).
	Before *domain.State
	// State is the stream's state after the events, kept as a snapshot when
	// the append passes a multiple of Config.SnapshotEvery. Optional.
	State *domain.State
}

// Result says what an append wrote.
type Result struct {
	StreamID  string
	Version   domain.Version // the stream version after the append
	Position  domain.Position
	Events    []domain.StoredEvent
	Duplicate bool // an earlier append with the same idempotency scope answered
}

// ConflictError reports that the stream is not at the expected version.
type ConflictError struct {
	StreamID string
	Expected domain.Version
	Actual   domain.Version
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append to %s: expected version %d, stream is at %d", e.StreamID, e.Expected, e.Actual)
}

// ErrIdempotencyMismatch is returned when an idempotency key is reused for a different request.
var ErrIdempotencyMismatch = &domain.Error{Kind: domain.KindRefused, Code: "idempotency-key-reused",
	Detail: "this Idempotency-Key was already used for a different request"}

// Append writes the events atomically at the end of the stream. Appends
// made at the same time share a transaction (group commit) but not their
// fate: each gets its own answer, and a refused one does not fail the
// others.
func (s *Store) Append(ctx context.Context, a Append) (res Result, err error) {
	defer postgres.ClassifyOn(&err)
	if len(a.Events) == 0 {
		return Result{StreamID: a.StreamID, Version: a.ExpectedVersion}, nil
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = s.now()
	}
	// PostgreSQL keeps microseconds; hash what will be read back.
	a.OccurredAt = a.OccurredAt.UTC().Truncate(time.Microsecond)
	var ans answer
	if s.tracer != nil {
		var span trace.Span
		ctx, span = s.startAppend(ctx, a)
		defer func() { endAppend(span, ans, res, err) }()
	}
	r := newRequest(ctx, a)
	if a.ExpectedVersion == 0 {
		// A new stream: its events, hashes and writes depend on nothing
		// stored, so they are built here, in parallel with other callers,
		// not by the committer.
		m := &member{r: r, a: a, prev: ZeroHash, created: true}
		if err = s.prepare(ctx, m); err != nil {
			return Result{}, err
		}
		r.prepared = m
	}
	ans = s.submit(r)
	if errors.Is(ans.err, errDuplicateOf) {
		return s.duplicateResult(ctx, a)
	}
	return ans.res, ans.err
}

// duplicateResult is the answer of the earlier append with a's idempotency scope.
func (s *Store) duplicateResult(ctx context.Context, a Append) (Result, error) {
	var hash []byte
	var stream string
	var version int64
	err := s.pool.QueryRow(ctx, `SELECT request_hash, stream_id, version FROM es_idempotency WHERE scope = $1`,
		a.Idempotency.Scope).Scan(&hash, &stream, &version)
	if err != nil {
		return Result{}, fmt.Errorf("append to %s: read idempotency key: %w", a.StreamID, err)
	}
	if string(hash) != string(a.Idempotency.RequestHash) {
		return Result{}, ErrIdempotencyMismatch
	}
	return Result{StreamID: stream, Version: domain.Version(version), Duplicate: true}, nil
}

// snapshot is the statement that keeps the stream's state when the append
// passes a multiple of SnapshotEvery (nil otherwise): a.State, or, when the
// caller did not give it, before with the events folded in.
func (s *Store) snapshot(a Append, before domain.State, events []domain.StoredEvent) (*Statement, error) {
	n, last := s.snapshotEvery, events[len(events)-1].Version
	if n <= 0 || a.ExpectedVersion/n == last/n {
		return nil, nil
	}
	state := a.State
	if state == nil || state.Version != last {
		st := before.Clone()
		for _, se := range events {
			e, err := se.Decode()
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", a.StreamID, err)
			}
			st.Apply(e, se.OccurredAt)
		}
		state = &st
	}
	raw, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", a.StreamID, err)
	}
	return &Statement{SQL: `INSERT INTO es_snapshots (stream_id, version, occurred_at, format, state)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id, version) DO UPDATE SET occurred_at = $3, format = $4, state = $5`,
		Args: []any{a.StreamID, int64(last), a.OccurredAt, domain.SnapshotFormat, raw}}, nil
}

// PurgeIdempotency forgets idempotency keys recorded before olderThan ago and
// returns how many it removed. A retry after that is a new request.
func (s *Store) PurgeIdempotency(ctx context.Context, olderThan time.Duration) (_ int64, err error) {
	defer postgres.ClassifyOn(&err)
	tag, err := s.pool.Exec(ctx, `DELETE FROM es_idempotency WHERE created_at < now() - make_interval(secs => $1)`,
		olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
