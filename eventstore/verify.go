package eventstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
)

// Break is the first place where the stored log does not match its hashes.
type Break struct {
	Position domain.Position
	StreamID string
	Reason   string
}

func (b *Break) Error() string {
	return fmt.Sprintf("position %d (%s): %s", b.Position, b.StreamID, b.Reason)
}

// VerifyResult says how much was checked and where the chain first broke.
type VerifyResult struct {
	Checked int64
	Head    domain.Position
	Break   *Break // nil when the whole log verified
}

// LinkedEvent is an event with the hashes of its predecessors, as exported:
// PrevHash is the previous event's hash in the stream, PrevChainHash the chain
// hash at the previous global position.
type LinkedEvent struct {
	domain.StoredEvent
	PrevHash      string `json:"prevHash"`
	PrevChainHash string `json:"prevChainHash"`

	rawMeta []byte // the metadata as stored, when read from the database
}

// Verifier checks a sequence of events in position order: gap-free positions,
// gap-free stream versions, every event's hash over its content and stream
// predecessor, and the global chain. Content hashes are checked in parallel.
type Verifier struct {
	// Partial accepts a sequence that starts after position 1, does not hold
	// every position, or starts streams after version 1 (an export of one
	// tenant or a position range); links are then checked where the
	// predecessor is in the sequence or its hash is given in the event.
	Partial bool
	// Contiguous requires gap-free positions even when Partial (an export of
	// a position range, not of one tenant).
	Contiguous bool

	streams   map[string]streamTip
	anchors   map[domain.Position][]byte // chain hashes at watched positions
	lastPos   domain.Position
	lastChain []byte
	checked   int64
	first     *Break
	watch     []domain.Position
}

type streamTip struct {
	version domain.Version
	hash    []byte
}

// NewVerifier returns a Verifier for a sequence starting at position 1.
func NewVerifier() *Verifier {
	return &Verifier{streams: map[string]streamTip{}, lastChain: ZeroHash}
}

// Watch makes the verifier keep the chain hash it sees at each position
// (checkpoints' positions), for checkAnchors.
func (v *Verifier) Watch(positions ...domain.Position) {
	if v.anchors == nil {
		v.anchors = map[domain.Position][]byte{} // a position is present once seen
	}
	v.watch = append(v.watch, positions...)
}

// Checked returns how many events were checked.
func (v *Verifier) Checked() int64 { return v.checked }

// Break returns the first break found, or nil.
func (v *Verifier) Break() *Break { return v.first }

// LastChain returns the chain hash after the last checked event.
func (v *Verifier) LastChain() []byte { return v.lastChain }

// LastPosition returns the position of the last checked event.
func (v *Verifier) LastPosition() domain.Position { return v.lastPos }

func (v *Verifier) fail(e domain.StoredEvent, format string, args ...any) {
	if v.first == nil {
		v.first = &Break{Position: e.Position, StreamID: e.StreamID, Reason: fmt.Sprintf(format, args...)}
	}
}

// Check verifies a batch of events that follows the previous batches. It
// stops at the first break.
func (v *Verifier) Check(batch []LinkedEvent) {
	if v.first != nil || len(batch) == 0 {
		return
	}
	prevs := make([][]byte, len(batch))
	for i, le := range batch {
		e := le.StoredEvent
		hash, err := hex.DecodeString(e.Hash)
		if err != nil || len(hash) != 32 {
			v.fail(e, "stored hash is not a SHA-256 value")
			return
		}
		chain, err := hex.DecodeString(e.ChainHash)
		if err != nil || len(chain) != 32 {
			v.fail(e, "stored chain hash is not a SHA-256 value")
			return
		}
		// Global order and the chain.
		prevChain := v.lastChain
		switch {
		case e.Position == v.lastPos+1:
		case v.Partial && e.Position > v.lastPos && (!v.Contiguous || v.lastPos == 0):
			prevChain = nil
			if le.PrevChainHash != "" {
				prevChain, _ = hex.DecodeString(le.PrevChainHash)
			}
		case e.Position <= v.lastPos:
			v.fail(e, "position %d comes after position %d: events are out of order", e.Position, v.lastPos)
			return
		default:
			v.fail(e, "positions %d to %d are missing: events were deleted", v.lastPos+1, e.Position-1)
			return
		}
		if prevChain != nil && !bytes.Equal(ChainHash(prevChain, e.Position, hash), chain) {
			v.fail(e, "chain hash does not follow from the previous event: the log was altered here")
			return
		}
		// Stream order.
		tip, seen := v.streams[e.StreamID]
		var prev []byte
		switch {
		case seen && e.Version == tip.version+1:
			prev = tip.hash
		case seen && e.Version <= tip.version:
			v.fail(e, "stream version %d repeats or goes back after version %d: events were swapped or replayed", e.Version, tip.version)
			return
		case !seen && e.Version == 1:
			prev = ZeroHash
		case v.Partial && !seen && le.PrevHash != "":
			// The stream's earlier events are outside a partial export.
			prev, _ = hex.DecodeString(le.PrevHash)
		default:
			v.fail(e, "stream version %d follows version %d: events of the stream are missing", e.Version, tip.version)
			return
		}
		if le.PrevHash != "" && prev != nil && le.PrevHash != hex.EncodeToString(prev) {
			v.fail(e, "the exported predecessor hash does not match the stream's previous event")
			return
		}
		prevs[i] = prev
		v.streams[e.StreamID] = streamTip{version: e.Version, hash: hash}
		v.lastPos, v.lastChain = e.Position, chain
		for _, w := range v.watch {
			if w == e.Position {
				v.anchors[w] = chain
			}
		}
	}
	if i, reason := checkContent(batch, prevs); i >= 0 {
		v.first = &Break{Position: batch[i].Position, StreamID: batch[i].StreamID, Reason: reason}
		return
	}
	v.checked += int64(len(batch))
}

// checkContent recomputes every event's hash in parallel and returns the index
// of the first mismatch (-1 when all match).
func checkContent(batch []LinkedEvent, prevs [][]byte) (int, string) {
	workers := runtime.GOMAXPROCS(0)
	bad := make([]string, len(batch))
	var wg sync.WaitGroup
	chunk := (len(batch) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(batch))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if prevs[i] == nil {
					continue
				}
				var h []byte
				var err error
				if raw := batch[i].rawMeta; raw != nil {
					h, err = eventHash(prevs[i], batch[i].StoredEvent, raw)
				} else {
					h, err = EventHash(prevs[i], batch[i].StoredEvent)
				}
				if err != nil {
					bad[i] = "content cannot be hashed: " + err.Error()
				} else if hex.EncodeToString(h) != batch[i].Hash {
					bad[i] = "content does not match its hash: the event was edited"
				}
			}
		}()
	}
	wg.Wait()
	for i, r := range bad {
		if r != "" {
			return i, r
		}
	}
	return -1, ""
}

// Verify walks the whole store in position order and reports the first
// broken link; progress (when not nil) is called after each batch. It reads
// one consistent snapshot, streaming rows while earlier batches are checked.
// Beyond the hashes it anchors the tail: the head and every stream's version
// and last hash must agree with the events, and each checkpoint given (read
// with ReadCheckpoint) must find its position in the log with the chain hash
// it signed, so a history shortened since the checkpoint is detected.
func (s *Reader) Verify(ctx context.Context, progress func(done, total int64), checkpoints ...Checkpoint) (VerifyResult, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback(context.Background())
	var head int64
	var headChain []byte
	if err := tx.QueryRow(ctx, `SELECT position, chain_hash FROM es_head WHERE id = 1`).Scan(&head, &headChain); err != nil {
		return VerifyResult{}, fmt.Errorf("verify: read head: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []LinkedEvent, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- streamEvents(ctx, tx, batches)
	}()
	v := NewVerifier()
	for _, c := range checkpoints {
		v.Watch(c.Position)
	}
	for batch := range batches {
		v.Check(batch)
		if v.Break() != nil {
			cancel()
			for range batches { // let the reader finish
			}
			return VerifyResult{Checked: v.Checked(), Head: domain.Position(head), Break: v.Break()}, nil
		}
		if progress != nil {
			progress(v.Checked(), head)
		}
	}
	if err := <-readErr; err != nil {
		return VerifyResult{}, fmt.Errorf("verify: %w", err)
	}
	res := VerifyResult{Checked: v.Checked(), Head: domain.Position(head)}
	switch {
	case v.LastPosition() < domain.Position(head):
		res.Break = &Break{Position: v.LastPosition() + 1, Reason: fmt.Sprintf("the head is at position %d but the log ends at %d: events were deleted", head, v.LastPosition())}
	case v.LastPosition() > domain.Position(head):
		res.Break = &Break{Position: domain.Position(head) + 1, Reason: fmt.Sprintf("the log holds events up to position %d beyond the head at %d", v.LastPosition(), head)}
	case head > 0 && !bytes.Equal(v.LastChain(), headChain):
		res.Break = &Break{Position: domain.Position(head), Reason: "the head's chain hash does not match the log's last event"}
	}
	if res.Break == nil {
		if res.Break, err = checkStreams(ctx, tx, v); err != nil {
			return VerifyResult{}, fmt.Errorf("verify: %w", err)
		}
	}
	if res.Break == nil {
		res.Break = checkAnchors(v, checkpoints)
	}
	return res, nil
}

// checkStreams compares every stream's recorded version and last hash with
// its last event: a stream whose newest events were deleted (with the head
// rewound to match) no longer agrees with its es_streams row.
func checkStreams(ctx context.Context, tx pgx.Tx, v *Verifier) (*Break, error) {
	rows, err := tx.Query(ctx, `SELECT stream_id, version, last_hash FROM es_streams`)
	if err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var stream string
		var version int64
		var last []byte
		if err := rows.Scan(&stream, &version, &last); err != nil {
			return nil, fmt.Errorf("read streams: %w", err)
		}
		tip, ok := v.streams[stream]
		if ok {
			seen++
		} else {
			tip = streamTip{hash: ZeroHash}
		}
		if domain.Version(version) != tip.version || !bytes.Equal(last, tip.hash) {
			return &Break{StreamID: stream, Position: v.LastPosition(), Reason: fmt.Sprintf(
				"the stream is recorded at version %d but its last event is version %d (or its hash differs): its newest events were deleted",
				version, tip.version)}, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	if seen != len(v.streams) {
		return &Break{Position: v.LastPosition(), Reason: "events belong to streams that are not recorded"}, nil
	}
	return nil, nil
}

// streamEvents reads every event in position order with one query and sends
// them in batches.
func streamEvents(ctx context.Context, tx pgx.Tx, out chan<- []LinkedEvent) error {
	const batchSize = 5000
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM es_events ORDER BY global_position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	batch := make([]LinkedEvent, 0, batchSize)
	for rows.Next() {
		var raw []byte
		e, err := scanEventRaw(rows, &raw)
		if err != nil {
			return err
		}
		batch = append(batch, LinkedEvent{StoredEvent: e, rawMeta: raw})
		if len(batch) == batchSize {
			select {
			case out <- batch:
			case <-ctx.Done():
				return nil
			}
			batch = make([]LinkedEvent, 0, batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
		}
	}
	return nil
}
