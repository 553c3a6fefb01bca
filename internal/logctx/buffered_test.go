package logctx

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records every Write the buffered writer makes.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

// waitFor returns the writes once there are n of them, or what there is
// after five seconds.
func (w *writes) waitFor(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for len(w.snapshot()) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return w.snapshot()
}

func TestBufferedBatchesLinesInOrder(t *testing.T) {
	var w writes
	b := NewBuffered(&w, 64, time.Hour)
	var want strings.Builder
	for i := range 20 {
		line := fmt.Sprintf("line %02d\n", i) // 8 bytes: 8 lines fill a batch
		want.WriteString(line)
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	// The two full batches are written without a Flush, by goroutines of
	// their own.
	if got := w.waitFor(2); len(got) != 2 {
		t.Fatalf("before Flush: %d writes %q, want 2 full batches", len(got), got)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	got := w.snapshot()
	if len(got) != 3 || strings.Join(got, "") != want.String() {
		t.Fatalf("writes %q, want the 20 lines in order in 3 writes", got)
	}
	for _, c := range got {
		if len(c) > 64 {
			t.Errorf("a write of %d bytes, over the batch size", len(c))
		}
	}
	if err := b.Flush(); err != nil || len(w.snapshot()) != 3 {
		t.Errorf("a Flush with nothing gathered wrote (err %v)", err)
	}
}

func TestBufferedWritesWithinTheDelay(t *testing.T) {
	var w writes
	b := NewBuffered(&w, 1<<10, 20*time.Millisecond)
	if _, err := b.Write([]byte("alone\n")); err != nil {
		t.Fatal(err)
	}
	if got := w.snapshot(); len(got) != 0 {
		t.Fatalf("written at once: %q", got)
	}
	if got := w.waitFor(1); len(got) != 1 || got[0] != "alone\n" {
		t.Fatalf("after the delay: %q, want the line", got)
	}
	// The timer starts again with the next line.
	if _, err := b.Write([]byte("again\n")); err != nil {
		t.Fatal(err)
	}
	if got := w.waitFor(2); len(got) != 2 || got[1] != "again\n" {
		t.Fatalf("second line: %q", got)
	}
}

func TestBufferedLargeLineGoesOnItsOwnAfterWhatCameBefore(t *testing.T) {
	var w writes
	b := NewBuffered(&w, 16, time.Hour)
	big := strings.Repeat("x", 40) + "\n"
	for _, line := range []string{"a\n", big, "b\n"} {
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.snapshot(); strings.Join(got, "") != "a\n"+big+"b\n" || len(got) != 3 {
		t.Fatalf("writes %q", got)
	}
}

func TestBufferedConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	b := NewBuffered(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	}), 256, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(b, "g%d-%03d\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d-%03d", &g, &i); err != nil || len(l) != 6 {
			t.Fatalf("broken line %q", l)
		}
		key := fmt.Sprint(g)
		if i != next[key] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[key]-1)
		}
		next[key]++
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// stalled is a writer whose writes wait until release is closed.
type stalled struct {
	writes
	entered chan struct{} // receives at the start of every write
	release chan struct{}
}

func (s *stalled) Write(p []byte) (int, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.writes.Write(p)
}

func TestBufferedStalledWriteHoldsNoLoggerUntilTheNextBatchFills(t *testing.T) {
	w := &stalled{entered: make(chan struct{}, 10), release: make(chan struct{})}
	b := NewBuffered(w, 16, time.Hour)
	// write writes lines in a goroutine and says whether they returned
	// within wait.
	write := func(wait time.Duration, lines ...string) (returned bool, done <-chan struct{}) {
		ch := make(chan struct{})
		go func() {
			defer close(ch)
			for _, l := range lines {
				if _, err := b.Write([]byte(l)); err != nil {
					t.Error(err)
				}
			}
		}()
		select {
		case <-ch:
			return true, ch
		case <-time.After(wait):
			return false, ch
		}
	}
	// A full batch is handed to a writer, which stalls.
	if ok, _ := write(5*time.Second, "0123456789abcde\n"); !ok {
		t.Fatal("Write waited for a stalled write of its own line")
	}
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("a full batch was not handed to a writer")
	}
	// The next batch gathers meanwhile, without waiting for the stalled write.
	if ok, _ := write(5*time.Second, "next-1\n", "next-2\n"); !ok {
		t.Fatal("Write waited for a stalled batch while the next one had room")
	}
	// A line that fills the next batch as well waits for the stalled write.
	ok, done := write(50*time.Millisecond, "full\n")
	if ok {
		t.Fatal("a second full batch did not wait for the first to be written: more than two batches held")
	}
	close(w.release)
	<-done
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.snapshot(), ""); got != "0123456789abcde\nnext-1\nnext-2\nfull\n" {
		t.Fatalf("written %q, want every line in order", got)
	}
}

func TestBufferedReportsAFailedWrite(t *testing.T) {
	boom := errors.New("disk full")
	fail := true
	var mu sync.Mutex
	b := NewBuffered(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 0, boom
		}
		return len(p), nil
	}), 1<<10, time.Hour)
	if _, err := b.Write([]byte("lost\n")); err != nil {
		t.Fatalf("gathering a line: %v", err)
	}
	if err := b.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush after a failed write: %v, want %v", err, boom)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := b.Write([]byte("kept\n")); err != nil {
		t.Fatalf("a failure already reported came back: %v", err)
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("Flush after a good write: %v", err)
	}
}
