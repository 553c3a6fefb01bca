package logctx

import (
	"io"
	"sync"
	"time"
)

// Buffered gathers log lines and writes them on in batches: once max bytes
// have gathered, delay after the first line of a batch at the latest, and on
// Flush. Under load that is one write system call per batch instead of one
// per line (the access log writes a line per request: at tens of thousands
// of requests a second the per-line write cost more than the line); idle,
// a line waits delay at most. Lines logged just before the process is killed
// (SIGKILL, a crash outside a recovered request) may be lost; Flush before
// exiting. It is safe for concurrent use, and keeps the order of lines.
type Buffered struct {
	w     io.Writer
	max   int
	delay time.Duration

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer // runs while buf holds lines
}

// NewBuffered returns a Buffered writing to w (max defaults to 32 KiB,
// delay to 100ms).
func NewBuffered(w io.Writer, max int, delay time.Duration) *Buffered {
	if max <= 0 {
		max = 32 << 10
	}
	if delay <= 0 {
		delay = 100 * time.Millisecond
	}
	b := &Buffered{w: w, max: max, delay: delay, buf: make([]byte, 0, max)}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write gathers p, a whole line (slog's handlers write a record at a time).
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.max && len(b.buf) > 0 {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= b.max { // larger than a batch: on its own
		_, err := b.w.Write(p)
		return len(p), err
	}
	if len(b.buf) == 0 && len(p) > 0 {
		b.timer.Reset(b.delay)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what has gathered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Buffered) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	b.timer.Stop()
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
