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
// a line waits delay at most.
//
// A batch is written by a goroutine of its own, not by the caller whose line
// filled it: a write that stalls (a file system busy flushing, a log reader
// that falls behind) holds up no request while the next batch gathers. Only
// when that one fills too does Write wait, so at most two batches are held.
//
// Lines logged just before the process is killed (SIGKILL, a crash outside
// a recovered request) may be lost; Flush before exiting. It is safe for
// concurrent use, and keeps the order of lines.
type Buffered struct {
	w     io.Writer
	max   int
	delay time.Duration

	mu      sync.Mutex
	buf     []byte     // lines gathering
	out     []byte     // the batch being written; nil while none is
	spare   []byte     // a written batch's buffer, for the next one
	written *sync.Cond // broadcast when a batch has been written
	err     error      // the first write that failed since the last Flush
	timer   *time.Timer
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
	b.written = sync.NewCond(&b.mu)
	b.timer = time.AfterFunc(time.Hour, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.handOff()
	})
	b.timer.Stop()
	return b
}

// Write gathers p, a whole line (slog's handlers write a record at a time).
// A line of max bytes or more is written as a batch of its own, after the
// lines before it. Write fails only when a batch before it failed to be
// written.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.max {
		b.handOff()
	}
	if len(b.buf) == 0 && len(p) > 0 {
		b.timer.Reset(b.delay)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= b.max && b.out == nil { // otherwise the next line waits
		b.handOff()
	}
	if err := b.err; err != nil {
		b.err = nil
		return len(p), err
	}
	return len(p), nil
}

// Flush writes what has gathered and returns once every line so far is
// written, with the error of the first batch since the last Flush that
// failed.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handOff()
	for b.out != nil {
		b.written.Wait()
	}
	err := b.err
	b.err = nil
	return err
}

// handOff passes the lines gathered to a writer goroutine, first waiting
// for the batch before them to be written. b.mu is held.
func (b *Buffered) handOff() {
	for b.out != nil && len(b.buf) > 0 {
		b.written.Wait() // others may hand off or add lines meanwhile
	}
	if len(b.buf) == 0 {
		return
	}
	b.timer.Stop()
	b.out, b.buf = b.buf, b.spare[:0]
	b.spare = nil
	if b.buf == nil {
		b.buf = make([]byte, 0, b.max)
	}
	go b.write(b.out)
}

// write writes one batch, outside the lock.
func (b *Buffered) write(batch []byte) {
	_, err := b.w.Write(batch)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && b.err == nil {
		b.err = err
	}
	if cap(batch) <= 2*b.max { // a batch swollen by a large line is not kept
		b.spare = batch[:0]
	}
	b.out = nil
	b.written.Broadcast()
}
