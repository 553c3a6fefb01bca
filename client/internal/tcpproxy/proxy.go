// Package tcpproxy is a TCP forwarder for tests that need a network failure
// between a client and a real server: Cut drops every connection and refuses
// new ones (a broker that went away), Pause stops forwarding bytes while
// keeping connections open (a broker that hangs), Restore and Resume undo
// them. It is a copy of the tenant service's internal/tcpproxy: the client
// module must not import the server module.
package tcpproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from a local address to a target address. Its
// methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string

	mu       sync.Mutex
	ln       net.Listener       // nil while cut or closed
	pairs    map[*pair]struct{} // open connection pairs
	resume   chan struct{}      // closed when not paused
	closed   bool
	accepted int
	wg       sync.WaitGroup
}

// pair is one client connection and its connection to the target.
type pair struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

func (p *pair) close() {
	p.once.Do(func() {
		close(p.done)
		p.client.Close()
		p.server.Close()
	})
}

// New starts a proxy on a free 127.0.0.1 port that forwards to target
// ("host:port").
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	running := make(chan struct{})
	close(running)
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, pairs: map[*pair]struct{}{}, resume: running}
	p.wg.Go(func() { p.accept(ln) })
	return p, nil
}

// Addr returns the proxy's listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.addr }

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut closes every connection and the listener: clients see their
// connections reset and new connections refused until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	pairs := p.pairs
	p.pairs = map[*pair]struct{}{}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range pairs {
		c.close()
	}
}

// Restore listens again on the same address after Cut, retrying for up to a
// second while the port is still held by the closed listener.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy closed")
	}
	if p.ln != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Go(func() { p.accept(ln) })
	return nil
}

// Pause stops forwarding in both directions; connections stay open and new
// ones are accepted but get no answer, until Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resume:
		p.resume = make(chan struct{})
	default: // already paused
	}
}

// Resume forwards again after Pause, starting with the bytes held back.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resume:
	default:
		close(p.resume)
	}
}

// Close cuts every connection and stops the proxy for good.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Resume()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return // listener closed by Cut or Close
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &pair{client: client, server: server, done: make(chan struct{})}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			c.close()
			return
		}
		p.pairs[c] = struct{}{}
		p.accepted++
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, c.server, c.client) })
		p.wg.Go(func() { p.pipe(c, c.client, c.server) })
	}
}

// pipe copies src to dst, holding bytes back while paused, and closes the
// pair when either side ends.
func (p *Proxy) pipe(c *pair, dst, src net.Conn) {
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.pairs, c)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		if !p.waitRunning(c) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitRunning(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: the pair is done
		}
	}
}

// waitRunning blocks while the proxy is paused; it reports false when the
// pair was closed meanwhile.
func (p *Proxy) waitRunning(c *pair) bool {
	p.mu.Lock()
	resume := p.resume
	p.mu.Unlock()
	select {
	case <-resume:
		return true
	case <-c.done:
		return false
	}
}
