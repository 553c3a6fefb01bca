package eventstore

import (
	"context"
	"sync"
	"time"
)

// signaller wakes the readers after appends commit: at once those of this
// process (Config.Committed), and, with a NOTIFY, every Notifier on the
// database, in every replica. The NOTIFY goes out on a connection of its
// own, after the commit and outside the append's transaction (inside, it
// would be queued under the head lock and delay every group behind it), and
// at most once per signalGap: commits landing meanwhile share the next one,
// so under load other replicas wake once per batch of commits. A NOTIFY lost
// to a crash in between costs readers a poll interval.
type signaller struct {
	mu      sync.Mutex
	running bool // a goroutine is sending
	again   bool // commits landed since it started its last NOTIFY
}

// signalTimeout bounds one NOTIFY; signalGap is the least time between two.
const (
	signalTimeout = 5 * time.Second
	signalGap     = 5 * time.Millisecond
)

// kick asks for a NOTIFY after the commits so far.
func (g *signaller) kick(s *Store) {
	g.mu.Lock()
	if g.running {
		g.again = true
		g.mu.Unlock()
		return
	}
	g.running = true
	g.mu.Unlock()
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
			_, _ = s.pool.Exec(ctx, `SELECT pg_notify($1, position::text) FROM es_head WHERE id = 1`, NotifyChannel)
			cancel()
			time.Sleep(signalGap)
			g.mu.Lock()
			if !g.again {
				g.running = false
				g.mu.Unlock()
				return
			}
			g.again = false
			g.mu.Unlock()
		}
	}()
}
