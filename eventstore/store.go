package eventstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// NotifyChannel is the LISTEN/NOTIFY channel an append signals with its last
// global position. Persisted in running readers: renaming it silences them.
const NotifyChannel = "es_events"

// InlineProjection is a read model written in the append's transaction, so it
// is never behind the store. The events carry their stream versions and times;
// their global positions are not assigned yet (zero). before is the stream's
// state when the append began (as the caller loaded it; the zero State for a
// new stream) when the caller knows it, else nil.
type InlineProjection interface {
	ApplyInline(ctx context.Context, tx pgx.Tx, events []domain.StoredEvent) error
}

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
	now           func() time.Time
	inline        []InlineProjection
	snapshotEvery domain.Version
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
	return &Store{Reader: NewReader(pool), now: cfg.Now, inline: append([]InlineProjection{readModel}, cfg.Inline...),
		snapshotEvery: cfg.SnapshotEvery}, nil
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

// Append writes the events atomically at the end of the stream.
func (s *Store) Append(ctx context.Context, a Append) (_ Result, err error) {
	defer postgres.ClassifyOn(&err)
	if len(a.Events) == 0 {
		return Result{StreamID: a.StreamID, Version: a.ExpectedVersion}, nil
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = s.now()
	}
	// PostgreSQL keeps microseconds; hash what will be read back.
	a.OccurredAt = a.OccurredAt.UTC().Truncate(time.Microsecond)

	var res Result
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		res, err = s.appendTx(ctx, tx, a)
		return err
	})
	if errors.Is(err, errDuplicate) {
		return s.duplicateResult(ctx, a)
	}
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

var errDuplicate = errors.New("duplicate idempotency scope")

func (s *Store) appendTx(ctx context.Context, tx pgx.Tx, a Append) (Result, error) {
	n := domain.Version(len(a.Events))
	if a.Idempotency != nil {
		// Waits for a concurrent holder of the same scope to commit or roll back.
		tag, err := tx.Exec(ctx, `INSERT INTO es_idempotency (scope, request_hash, stream_id, version)
			VALUES ($1, $2, $3, $4) ON CONFLICT (scope) DO NOTHING`,
			a.Idempotency.Scope, a.Idempotency.RequestHash, a.StreamID, a.ExpectedVersion+n)
		if err != nil {
			return Result{}, fmt.Errorf("append to %s: claim idempotency key: %w", a.StreamID, err)
		}
		if tag.RowsAffected() == 0 {
			return Result{}, errDuplicate
		}
	}

	prevHash, lastAt, err := s.lockStream(ctx, tx, a)
	if err != nil {
		return Result{}, err
	}
	// Times never go back within a stream, even when replicas' clocks
	// disagree, so "as of" a time is always a prefix of the stream.
	if a.OccurredAt.Before(lastAt) {
		a.OccurredAt = lastAt
	}

	events := make([]domain.StoredEvent, len(a.Events))
	for i, e := range a.Events {
		name, schema, data, err := domain.EncodeEvent(e)
		if err != nil {
			return Result{}, fmt.Errorf("append to %s: %w", a.StreamID, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return Result{}, fmt.Errorf("append to %s: event id: %w", a.StreamID, err)
		}
		events[i] = domain.StoredEvent{EventID: id.String(), StreamID: a.StreamID, TenantID: a.TenantID,
			Type: name, Version: a.ExpectedVersion + domain.Version(i) + 1, OccurredAt: a.OccurredAt,
			SchemaVersion: schema, Data: data, Metadata: a.Metadata}
	}
	for _, p := range s.inline {
		if err := p.ApplyInline(ctx, tx, events); err != nil {
			return Result{}, err
		}
	}
	if err := s.snapshot(ctx, tx, a, events); err != nil {
		return Result{}, err
	}

	// The head row last: the global lock is held only from here to commit.
	var headPos int64
	var chain []byte
	var committed time.Time
	if err := tx.QueryRow(ctx, `SELECT position, chain_hash, committed_at FROM es_head WHERE id = 1 FOR UPDATE`).
		Scan(&headPos, &chain, &committed); err != nil {
		return Result{}, fmt.Errorf("append to %s: lock head: %w", a.StreamID, err)
	}
	// Commit times never go back in position order (see ReadFeed).
	if now := s.now().UTC().Truncate(time.Microsecond); now.After(committed) {
		committed = now
	}
	metaJSON, err := json.Marshal(a.Metadata)
	if err != nil {
		return Result{}, fmt.Errorf("append to %s: metadata: %w", a.StreamID, err)
	}
	batch := &pgx.Batch{}
	for i := range events {
		e := &events[i]
		e.Position = domain.Position(headPos) + domain.Position(i) + 1
		h, err := EventHash(prevHash, *e)
		if err != nil {
			return Result{}, fmt.Errorf("append to %s: hash: %w", a.StreamID, err)
		}
		chain = ChainHash(chain, e.Position, h)
		prevHash = h
		e.Hash, e.ChainHash = hex.EncodeToString(h), hex.EncodeToString(chain)
		batch.Queue(`INSERT INTO es_events (global_position, event_id, stream_id, version, tenant_id,
				event_type, schema_version, data, metadata, occurred_at, hash, chain_hash, committed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			int64(e.Position), e.EventID, e.StreamID, int64(e.Version), string(e.TenantID),
			e.Type, e.SchemaVersion, e.Data, metaJSON, e.OccurredAt, h, chain, committed)
	}
	last := events[len(events)-1]
	batch.Queue(`UPDATE es_streams SET version = $2, last_hash = $3, updated_at = $4 WHERE stream_id = $1`,
		a.StreamID, int64(last.Version), prevHash, a.OccurredAt)
	batch.Queue(`UPDATE es_head SET position = $1, chain_hash = $2, committed_at = $3 WHERE id = 1`, int64(last.Position), chain, committed)
	batch.Queue(`SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(int64(last.Position), 10))
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return Result{}, fmt.Errorf("append to %s: insert events: %w", a.StreamID, err)
	}
	return Result{StreamID: a.StreamID, Version: last.Version, Position: last.Position, Events: events}, nil
}

// lockStream creates the stream (expected version 0) or locks its row and
// checks the expected version. It returns the hash and time of the stream's
// last event.
func (s *Store) lockStream(ctx context.Context, tx pgx.Tx, a Append) ([]byte, time.Time, error) {
	if a.ExpectedVersion == 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO es_streams (stream_id, tenant_id, version, last_hash, created_at, updated_at)
			VALUES ($1, $2, 0, $3, $4, $4) ON CONFLICT (stream_id) DO NOTHING`,
			a.StreamID, string(a.TenantID), ZeroHash, a.OccurredAt)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("append to %s: create stream: %w", a.StreamID, err)
		}
		if tag.RowsAffected() == 1 {
			return ZeroHash, time.Time{}, nil
		}
	}
	var version int64
	var last []byte
	var lastAt time.Time
	err := tx.QueryRow(ctx, `SELECT version, last_hash, updated_at FROM es_streams WHERE stream_id = $1 FOR UPDATE`, a.StreamID).
		Scan(&version, &last, &lastAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, &ConflictError{StreamID: a.StreamID, Expected: a.ExpectedVersion, Actual: 0}
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("append to %s: lock stream: %w", a.StreamID, err)
	}
	if domain.Version(version) != a.ExpectedVersion {
		return nil, time.Time{}, &ConflictError{StreamID: a.StreamID, Expected: a.ExpectedVersion, Actual: domain.Version(version)}
	}
	return last, lastAt.UTC(), nil
}

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

// snapshot keeps the stream's state when the append passed a multiple of
// SnapshotEvery: a.State, or, when the caller did not give it, the state
// replayed from the previous snapshot (once every SnapshotEvery versions).
func (s *Store) snapshot(ctx context.Context, tx pgx.Tx, a Append, events []domain.StoredEvent) error {
	n, last := s.snapshotEvery, events[len(events)-1].Version
	if n <= 0 || a.ExpectedVersion/n == last/n {
		return nil
	}
	state := a.State
	if state == nil || state.Version != last {
		t, err := (&Repository{store: s, now: s.now}).LoadAt(ctx, a.TenantID, a.ExpectedVersion, time.Time{})
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", a.StreamID, err)
		}
		for _, se := range events {
			e, err := se.Decode()
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", a.StreamID, err)
			}
			t.Replay(e, se.OccurredAt)
		}
		st := t.State()
		state = &st
	}
	raw, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", a.StreamID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO es_snapshots (stream_id, version, occurred_at, format, state)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id, version) DO UPDATE SET occurred_at = $3, format = $4, state = $5`,
		a.StreamID, int64(last), a.OccurredAt, domain.SnapshotFormat, raw); err != nil {
		return fmt.Errorf("snapshot %s: %w", a.StreamID, err)
	}
	return nil
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
