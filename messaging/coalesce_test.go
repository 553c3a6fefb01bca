package messaging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// Concurrent writers' bytes arrive whole, each writer's in its order, in
// fewer writes than Writes when they overlap.
func TestCoalescingConnKeepsWritesWholeAndInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		all, _ := io.ReadAll(c)
		received <- all
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: raw}
	c := newCoalescingConn(counted, 64<<10)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := fmt.Fprintf(c, "<w%d:%04d>", w, i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	select {
	case all = <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the peer did not see the connection close")
	}
	next := make([]int, writers)
	n := 0
	for rest := all; len(rest) > 0; n++ {
		end := bytes.IndexByte(rest, '>')
		var w, i int
		if end < 0 || rest[0] != '<' {
			t.Fatalf("broken write at %q", rest[:min(len(rest), 20)])
		}
		if _, err := fmt.Sscanf(string(rest[:end+1]), "<w%d:%04d>", &w, &i); err != nil {
			t.Fatalf("broken write %q: %v", rest[:end+1], err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: write %d arrived after %d", w, i, next[w]-1)
		}
		next[w]++
		rest = rest[end+1:]
	}
	if n != writers*each {
		t.Fatalf("%d writes arrived, want %d", n, writers*each)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	t.Logf("%d Writes reached the connection in %d writes", n, counted.writes)
}

// Writes made while one is on its way go out together: with the first one
// held (nobody reads yet), three more make one write between them.
func TestCoalescingConnSendsQueuedWritesTogether(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	counted := &countingConn{Conn: client}
	c := newCoalescingConn(counted, 1024)
	defer c.Close()
	for _, p := range []string{"a", "b", "c", "d"} {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 0, 4)
	buf := make([]byte, 16)
	for len(got) < 4 {
		_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := server.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, buf[:n]...)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if string(got) != "abcd" || counted.writes > 2 {
		t.Fatalf("read %q in %d writes; want abcd in at most 2", got, counted.writes)
	}
}

// A peer that stops reading stops the writers once maxPending bytes wait,
// and they go on when it reads again.
func TestCoalescingConnPushesBack(t *testing.T) {
	client, server := net.Pipe() // unbuffered: a write waits for the read
	defer server.Close()
	c := newCoalescingConn(client, 1024)
	defer c.Close()
	chunk := bytes.Repeat([]byte("x"), 256)
	wrote := make(chan int, 1)
	go func() {
		n := 0
		for range 20 { // 5 KiB: more than the writer holds plus maxPending
			if _, err := c.Write(chunk); err != nil {
				break
			}
			n++
		}
		wrote <- n
	}()
	select {
	case n := <-wrote:
		t.Fatalf("all %d Writes returned while nobody read", n)
	case <-time.After(200 * time.Millisecond):
	}
	got := make([]byte, 0, 20*len(chunk))
	buf := make([]byte, 4096)
	for len(got) < 20*len(chunk) {
		_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := server.Read(buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if n := <-wrote; n != 20 {
		t.Fatalf("%d of 20 Writes", n)
	}
	if !bytes.Equal(got, bytes.Repeat(chunk, 20)) {
		t.Fatal("the bytes changed on the way")
	}
}

// A failed write fails every later Write, and closes the connection.
func TestCoalescingConnFailsAfterAFailedWrite(t *testing.T) {
	client, server := net.Pipe()
	c := newCoalescingConn(client, 1024)
	server.Close() // writes to the pipe now fail
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatalf("the first Write only queues: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("more"))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("a Write after the failed one: %v, want the write's error", err)
	}
	if _, rerr := client.Read(make([]byte, 1)); rerr == nil {
		t.Error("the connection is still open for reading")
	}
	_ = c.Close()
}

// Close sends what is queued, and gives up after closeFlushTimeout when the
// peer does not read.
func TestCoalescingConnCloseFlushesThenGivesUp(t *testing.T) {
	client, server := net.Pipe()
	c := newCoalescingConn(client, 1024)
	read := make(chan []byte, 1)
	go func() { all, _ := io.ReadAll(server); read <- all }()
	if _, err := c.Write([]byte("connection.close")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; string(got) != "connection.close" {
		t.Fatalf("the peer read %q before the close", got)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}

	client, server = net.Pipe() // nobody reads this one
	defer server.Close()
	c = newCoalescingConn(client, 1024)
	if _, err := c.Write([]byte("stuck")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.Close()
	if took := time.Since(start); took > closeFlushTimeout+2*time.Second {
		t.Errorf("Close took %s with a peer that does not read", took)
	}
}
