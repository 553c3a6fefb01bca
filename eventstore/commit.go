package eventstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
)

// A group commits in two round trips, whatever its size:
//
//  1. BEGIN; lock the inline projections' tables (LockedTables); lock the
//     group's existing streams (in stream id order, so two
//     groups never deadlock) and read their versions and last hashes; read
//     the idempotency scopes already claimed. Appends whose expected version
//     is wrong, or whose scope was answered before, are answered now. The
//     others' events are built and hashed (an event's hash covers its
//     stream predecessor's, not its position).
//  2. For each remaining append: claim its scope, create its stream, the
//     inline projections' writes, move its stream; then es_append_events
//     takes the head-row lock, numbers the events, links them into the
//     global chain, inserts them and moves the head; COMMIT. A write refused
//     (an integrity violation, or a write that must change a row changing
//     none) stops the pipeline before the head: the group rolls back, the
//     refused append is answered (or, when another append of the same group
//     held the value, sent to the next group) and the group runs again
//     without it.
//
// Positions stay gap-free and in commit order: they are assigned under the
// head-row lock, which is held only for es_append_events and the commit.

// maxGroupAttempts bounds how often one group starts again after a deadlock
// with another replica's group (or a serialization failure).
const maxGroupAttempts = 8

// maxRequeues bounds how often an append is sent to the next group because
// another append of its group refused it.
const maxRequeues = 4

// member is one append of a group being committed.
type member struct {
	r       *request
	a       Append
	prev    []byte    // the stream's last event hash
	lastAt  time.Time // the stream's last event time
	created bool      // the append creates its stream
	events  []domain.StoredEvent
	hashes  [][]byte // the events' hashes
	// metaJSON is the metadata as stored (and hashed).
	metaJSON []byte
	stmts    []Statement
}

// refusal is a statement of one member that the database refused.
type refusal struct {
	m    *member
	stmt Statement
	err  error // the database's error, nil when the statement changed no row
}

func (s *Store) commitGroup(batch []*request) {
	start := time.Now()
	ctx, cancel := groupContext(batch)
	defer cancel()
	// The group's span ends before any of the appends it commits is
	// answered: it is a child of the oldest one's span, and a caller that
	// has its answer finds the transaction's span complete.
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.startCommit(ctx, batch)
	}
	oldest := batch[0]
	// Each refusal takes one append out, so the loop ends; only restarts
	// that take nothing out (a deadlock with another replica's group) are
	// bounded.
	for restarts := 0; len(batch) > 0; {
		members, waiting, ref, err := s.tryGroup(ctx, batch)
		batch = waiting
		switch {
		case err == nil && ref == nil:
			if span != nil {
				if restarts > 0 {
					span.SetAttributes(attrRestarts.Int(restarts))
				}
				span.End()
			}
			// Counted before it is answered, as its span ends: a caller
			// with its answer finds its group reported.
			if s.groupCommitted != nil {
				s.groupCommitted(len(members), time.Since(start))
			}
			for _, m := range members {
				a := answer{res: m.result()}
				if span != nil && m.r != oldest {
					a.commit = span.SpanContext()
				}
				m.r.done <- a
			}
			return
		case err != nil:
			if restarts++; retryable(err) && restarts < maxGroupAttempts {
				continue
			}
			if span != nil {
				span.SetAttributes(attrRestarts.Int(restarts - 1))
				span.SetStatus(codes.Error, err.Error())
				span.End()
			}
			for _, r := range batch {
				r.done <- answer{err: err}
			}
			return
		}
		// A refused write: answer its append, or send it to the next group
		// when what refused it may not be there then, and try again without it.
		r := ref.m.r
		batch = without(batch, r)
		switch aerr, again := s.explainRefusal(ctx, ref); {
		case !again:
			r.done <- answer{err: aerr}
		case r.requeues < maxRequeues:
			r.requeues++
			s.groups.requeue([]*request{r})
		default:
			r.done <- answer{err: domain.ErrConcurrentWrite}
		}
	}
	// Every append was refused.
	if span != nil {
		span.End()
	}
}

// tryGroup runs one attempt of the group's transaction. It answers the
// appends that step 1 settles (conflicts, duplicates) and returns the
// requests still waiting; members are those committed when it returns no
// error and no refusal, and ref is a refused write (the transaction rolled
// back).
func (s *Store) tryGroup(ctx context.Context, batch []*request) (members []*member, waiting []*request, ref *refusal, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, batch, nil, fmt.Errorf("append: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// Leaves the connection idle, or, when it cannot, makes the pool drop it.
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		conn.Release()
	}()

	// A group that only creates streams has nothing to lock or read first:
	// its streams must not exist, which creating them checks, and its
	// idempotency scopes must be free, which claiming them checks. It
	// commits in one round trip.
	creates := !slices.ContainsFunc(batch, func(r *request) bool { return r.a.ExpectedVersion != 0 })
	if creates {
		members = newStreams(batch)
	} else {
		members, err = s.lockStreams(ctx, conn, batch)
		if err != nil {
			return nil, batch, nil, err
		}
	}
	waiting = make([]*request, len(members))
	for i, m := range members {
		waiting[i] = m.r
	}
	if len(members) == 0 {
		return nil, nil, nil, nil // every append answered in step 1
	}
	ref, err = s.commitMembers(ctx, conn, members, creates)
	if err != nil || ref != nil {
		return nil, waiting, ref, err
	}
	committed = true
	for _, m := range members {
		for _, st := range m.stmts {
			if st.Committed != nil {
				st.Committed()
			}
		}
	}
	return members, waiting, nil, nil
}

// newStreams is step 1 for a group of appends that all create their
// streams: nothing to read, and their callers built them (Append).
func newStreams(batch []*request) []*member {
	members := make([]*member, len(batch))
	for i, r := range batch {
		members[i] = r.prepared
	}
	return members
}

// lockStreams is step 1. It answers the members that cannot append and
// returns the others, their events built.
func (s *Store) lockStreams(ctx context.Context, conn *pgxpool.Conn, batch []*request) ([]*member, error) {
	streams := make([]string, len(batch))
	var scopes []string
	for i, r := range batch {
		streams[i] = r.a.StreamID
		if r.a.Idempotency != nil {
			scopes = append(scopes, r.a.Idempotency.Scope)
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if s.lockTables != "" {
		b.Queue(s.lockTables) // see LockedTables
	}
	b.Queue(`SELECT stream_id, version, last_hash, updated_at FROM es_streams
		WHERE stream_id = ANY($1) ORDER BY stream_id FOR UPDATE`, streams)
	if len(scopes) > 0 {
		b.Queue(`SELECT scope, request_hash FROM es_idempotency WHERE scope = ANY($1)`, scopes)
	}
	type streamRow struct {
		version int64
		last    []byte
		at      time.Time
	}
	rows := map[string]streamRow{}
	claimed := map[string][]byte{}
	br := conn.SendBatch(ctx, b)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if s.lockTables != "" {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		q, err := br.Query()
		if err != nil {
			return err
		}
		for q.Next() {
			var id string
			var sr streamRow
			if err := q.Scan(&id, &sr.version, &sr.last, &sr.at); err != nil {
				q.Close()
				return err
			}
			rows[id] = sr
		}
		if err := q.Err(); err != nil {
			return err
		}
		if len(scopes) == 0 {
			return nil
		}
		q, err = br.Query()
		if err != nil {
			return err
		}
		for q.Next() {
			var scope string
			var hash []byte
			if err := q.Scan(&scope, &hash); err != nil {
				q.Close()
				return err
			}
			claimed[scope] = hash
		}
		return q.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("append: lock streams: %w", err)
	}

	var members []*member
	for _, r := range batch {
		a := r.a
		if a.Idempotency != nil {
			if hash, ok := claimed[a.Idempotency.Scope]; ok {
				r.done <- answer{err: r.duplicateErr(hash)}
				continue
			}
		}
		row, exists := rows[a.StreamID]
		if domain.Version(row.version) != a.ExpectedVersion || (!exists && a.ExpectedVersion != 0) {
			r.done <- answer{err: &ConflictError{StreamID: a.StreamID, Expected: a.ExpectedVersion, Actual: domain.Version(row.version)}}
			continue
		}
		if !exists { // expected version 0: built by its caller (Append)
			members = append(members, r.prepared)
			continue
		}
		m := &member{r: r, a: a, prev: row.last, lastAt: row.at.UTC()}
		// Times never go back within a stream, even when replicas' clocks
		// disagree, so "as of" a time is always a prefix of the stream.
		if m.a.OccurredAt.Before(m.lastAt) {
			m.a.OccurredAt = m.lastAt
		}
		if err := s.prepare(ctx, m); err != nil {
			r.done <- answer{err: err}
			continue
		}
		members = append(members, m)
	}
	return members, nil
}

// prepare builds the member's events and the statements that go with them.
func (s *Store) prepare(ctx context.Context, m *member) error {
	a := m.a
	m.events = make([]domain.StoredEvent, len(a.Events))
	for i, e := range a.Events {
		name, schema, data, err := domain.EncodeEvent(e)
		if err != nil {
			return fmt.Errorf("append to %s: %w", a.StreamID, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("append to %s: event id: %w", a.StreamID, err)
		}
		m.events[i] = domain.StoredEvent{EventID: id.String(), StreamID: a.StreamID, TenantID: a.TenantID,
			Type: name, Version: a.ExpectedVersion + domain.Version(i) + 1, OccurredAt: a.OccurredAt,
			SchemaVersion: schema, Data: data, Metadata: a.Metadata}
	}
	meta, err := json.Marshal(a.Metadata)
	if err != nil {
		return fmt.Errorf("append to %s: metadata: %w", a.StreamID, err)
	}
	m.metaJSON = meta
	prev := m.prev
	for i := range m.events {
		h, err := eventHash(prev, m.events[i], meta)
		if err != nil {
			return fmt.Errorf("append to %s: hash: %w", a.StreamID, err)
		}
		m.events[i].Hash = hex.EncodeToString(h)
		m.hashes = append(m.hashes, h)
		prev = h
	}
	n := domain.Version(len(a.Events))
	if a.Idempotency != nil {
		scope := a.Idempotency.Scope
		m.stmts = append(m.stmts, Statement{
			// A scope claimed already (by a transaction that committed
			// after step 1, or that is still under way: the insert waits
			// for it) is a unique violation.
			SQL:  `INSERT INTO es_idempotency (scope, request_hash, stream_id, version) VALUES ($1, $2, $3, $4)`,
			Args: []any{scope, a.Idempotency.RequestHash, a.StreamID, int64(a.ExpectedVersion + n)},
			Refused: func(ctx context.Context, q Querier) error {
				var hash []byte
				err := q.QueryRow(ctx, `SELECT request_hash FROM es_idempotency WHERE scope = $1`, scope).Scan(&hash)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil // claimed by a transaction that did not commit: try again
				}
				if err != nil {
					return fmt.Errorf("append to %s: read idempotency key: %w", a.StreamID, err)
				}
				return errDuplicate{hash}
			},
		})
	}
	if m.created {
		// The stream is created as it will be after the append; one that
		// exists already is a unique violation.
		last := m.events[len(m.events)-1]
		m.stmts = append(m.stmts, Statement{
			SQL: `INSERT INTO es_streams (stream_id, tenant_id, version, last_hash, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5)`,
			Args: []any{a.StreamID, string(a.TenantID), int64(last.Version), m.hashes[len(m.hashes)-1], a.OccurredAt},
			Refused: func(ctx context.Context, q Querier) error {
				var version int64
				err := q.QueryRow(ctx, `SELECT version FROM es_streams WHERE stream_id = $1`, a.StreamID).Scan(&version)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("append to %s: read stream: %w", a.StreamID, err)
				}
				return &ConflictError{StreamID: a.StreamID, Expected: 0, Actual: domain.Version(version)}
			},
		})
	}
	before, err := s.stateBefore(ctx, a)
	if err != nil {
		return err
	}
	for _, p := range s.inline {
		stmts, err := p.Inline(before, m.events)
		if err != nil {
			return err
		}
		m.stmts = append(m.stmts, stmts...)
	}
	snap, err := s.snapshot(a, before, m.events)
	if err != nil {
		return err
	}
	if snap != nil {
		m.stmts = append(m.stmts, *snap)
	}
	return nil
}

// stateBefore is the stream's state before the append: the caller's, or
// replayed from the stream (whose version step 1 checked and locked).
func (s *Store) stateBefore(ctx context.Context, a Append) (domain.State, error) {
	if a.Before != nil && a.Before.Version == a.ExpectedVersion {
		return *a.Before, nil
	}
	if a.ExpectedVersion == 0 {
		return domain.State{}, nil
	}
	t, err := (&Repository{store: s, now: s.now}).LoadAt(ctx, a.TenantID, a.ExpectedVersion, time.Time{})
	if err != nil {
		return domain.State{}, fmt.Errorf("append to %s: load state: %w", a.StreamID, err)
	}
	return t.State(), nil
}

// commitMembers is step 2. It returns the first refused write (the
// transaction is then unusable: roll it back), or commits.
func (s *Store) commitMembers(ctx context.Context, conn *pgxpool.Conn, members []*member, begin bool) (*refusal, error) {
	b := &pgx.Batch{}
	if begin {
		b.Queue("BEGIN")
	}
	type origin struct {
		m    *member
		stmt Statement
	}
	var from []origin
	var ev eventArrays
	for _, m := range members {
		for _, st := range m.stmts {
			sql := st.SQL
			if st.MustAffect {
				sql = "WITH w AS (" + sql + " RETURNING 1) SELECT es_must_change(count(*), 'write') FROM w"
			}
			b.Queue(sql, st.Args...)
			from = append(from, origin{m, st})
		}
		ev.add(m)
	}
	var moved int // streams that existed: move them to their new version
	for _, m := range members {
		if m.created {
			continue
		}
		last := m.events[len(m.events)-1]
		b.Queue(`UPDATE es_streams SET version = $2, last_hash = $3, updated_at = $4 WHERE stream_id = $1`,
			m.a.StreamID, int64(last.Version), m.hashes[len(m.hashes)-1], m.a.OccurredAt)
		moved++
	}
	b.Queue(`SELECT first_position, chain_hashes, committed FROM es_append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ev.ids, ev.streams, ev.versions, ev.tenants, ev.types, ev.schemas, ev.data, ev.metadata, ev.occurred, ev.hashes,
		s.now().UTC().Truncate(time.Microsecond))
	b.Queue("COMMIT")

	br := conn.SendBatch(ctx, b)
	var ref *refusal
	var first int64
	var chains [][]byte
	err := func() error {
		if begin {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, o := range from {
			if _, err := br.Exec(); err != nil {
				if refusedByData(err) {
					ref = &refusal{m: o.m, stmt: o.stmt, err: err}
					return nil
				}
				return err
			}
		}
		for range moved {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		var committedAt time.Time
		if err := br.QueryRow().Scan(&first, &chains, &committedAt); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	}()
	if cerr := br.Close(); err == nil && ref == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("append: write: %w", err)
	}
	if ref != nil {
		return ref, nil
	}
	pos, i := domain.Position(first), 0
	for _, m := range members {
		for j := range m.events {
			m.events[j].Position = pos
			m.events[j].ChainHash = hex.EncodeToString(chains[i])
			pos, i = pos+1, i+1
		}
	}
	if s.committed != nil {
		all := make([]domain.StoredEvent, 0, i)
		for _, m := range members {
			all = append(all, m.events...)
		}
		s.committed(all)
	}
	s.signal.kick(s)
	return nil, nil
}

// eventArrays are a group's events, column by column, for es_append_events.
type eventArrays struct {
	ids, streams, tenants, types, data, metadata []string
	versions                                     []int64
	schemas                                      []int16
	occurred                                     []time.Time
	hashes                                       [][]byte
}

func (ev *eventArrays) add(m *member) {
	for i, e := range m.events {
		ev.ids = append(ev.ids, e.EventID)
		ev.streams = append(ev.streams, e.StreamID)
		ev.versions = append(ev.versions, int64(e.Version))
		ev.tenants = append(ev.tenants, string(e.TenantID))
		ev.types = append(ev.types, e.Type)
		ev.schemas = append(ev.schemas, int16(e.SchemaVersion))
		ev.data = append(ev.data, string(e.Data))
		ev.metadata = append(ev.metadata, string(m.metaJSON))
		ev.occurred = append(ev.occurred, e.OccurredAt)
		ev.hashes = append(ev.hashes, m.hashes[i])
	}
}

// explainRefusal turns a refused write into its append's answer. again means the
// refusal cannot be explained from committed data (another append of the
// same group, or of a transaction that did not commit, held the value): the
// append should wait for the next group.
func (s *Store) explainRefusal(ctx context.Context, ref *refusal) (err error, again bool) {
	if ref.stmt.Refused != nil {
		aerr := ref.stmt.Refused(ctx, s.pool)
		var dup errDuplicate
		if errors.As(aerr, &dup) {
			return ref.m.r.duplicateErr(dup.hash), false
		}
		if aerr != nil {
			return aerr, false
		}
		return nil, true
	}
	if ref.err != nil {
		return fmt.Errorf("append to %s: %w", ref.m.a.StreamID, ref.err), false
	}
	return fmt.Errorf("append to %s: a write changed no row", ref.m.a.StreamID), false
}

// errDuplicate says an idempotency scope is already claimed, with the hash
// of the request that claimed it.
type errDuplicate struct{ hash []byte }

func (errDuplicate) Error() string { return "duplicate idempotency scope" }

// duplicateErr is the answer to a request whose scope another request
// claimed first: errDuplicateOf, which Append turns into the earlier result,
// or ErrIdempotencyMismatch.
func (r *request) duplicateErr(hash []byte) error {
	if string(hash) != string(r.a.Idempotency.RequestHash) {
		return ErrIdempotencyMismatch
	}
	return errDuplicateOf
}

// errDuplicateOf marks an append answered by an earlier one with the same
// idempotency scope; Append reads that answer.
var errDuplicateOf = errors.New("answered by an earlier append with the same idempotency scope")

func (m *member) result() Result {
	last := m.events[len(m.events)-1]
	return Result{StreamID: m.a.StreamID, Version: last.Version, Position: last.Position, Events: m.events}
}

// refusedByData reports an error that is about one statement's data (an
// integrity constraint, a value the column cannot hold, a write that must
// change a row changing none: es_must_change's ES001), which refuses that
// statement's append only.
func refusedByData(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && (pe.Code[:2] == "23" || pe.Code[:2] == "22" || pe.Code == "ES001")
}

// retryable reports an error after which the whole group may simply run
// again: a deadlock with another replica's group, a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func without(batch []*request, r *request) []*request {
	out := batch[:0:0]
	for _, x := range batch {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}
