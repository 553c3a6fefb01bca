package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Tamper runs SQL on the event store's tables the way an attacker with
// table access could, for the tests of verify in other packages.
func Tamper(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// ForgeName rewrites the name in the data of the event at position pos.
func ForgeName(t testing.TB, pool *pgxpool.Pool, pos int64, name string) {
	t.Helper()
	Tamper(t, pool, `UPDATE es_events SET data = jsonb_set(data, '{name}', to_jsonb($2::text)) WHERE global_position = $1`, pos, name)
}

// CutTail deletes the newest event and rewinds the head and its stream to
// match, so that the shortened log is consistent in itself: only a signed
// checkpoint taken before detects it.
func CutTail(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	Tamper(t, pool, `DELETE FROM es_events WHERE global_position = (SELECT max(global_position) FROM es_events)`)
	Tamper(t, pool, `UPDATE es_head SET position = e.global_position, chain_hash = e.chain_hash
		FROM (SELECT global_position, chain_hash FROM es_events ORDER BY global_position DESC LIMIT 1) e WHERE id = 1`)
	Tamper(t, pool, `UPDATE es_streams s SET version = e.version, last_hash = e.hash
		FROM (SELECT DISTINCT ON (stream_id) stream_id, version, hash FROM es_events ORDER BY stream_id, version DESC) e
		WHERE s.stream_id = e.stream_id AND s.version <> e.version`)
	Tamper(t, pool, `DELETE FROM es_streams s WHERE NOT EXISTS (SELECT 1 FROM es_events e WHERE e.stream_id = s.stream_id)`)
}
