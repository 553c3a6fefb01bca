package logctx

import (
	"bytes"
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
	if got := w.snapshot(); len(got) != 2 {
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
	deadline := time.Now().Add(5 * time.Second)
	for len(w.snapshot()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := w.snapshot(); len(got) != 1 || got[0] != "alone\n" {
		t.Fatalf("after the delay: %q, want the line", got)
	}
	// The timer starts again with the next line.
	if _, err := b.Write([]byte("again\n")); err != nil {
		t.Fatal(err)
	}
	for len(w.snapshot()) == 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := w.snapshot(); len(got) != 2 || got[1] != "again\n" {
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
