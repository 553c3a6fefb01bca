package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadResult is what one load run measured.
type loadResult struct {
	requests, failures int
	firstFailure       string
	elapsed            time.Duration
	latencies          []time.Duration // sorted
}

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r loadResult) max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1]
}

// runLoad is the load generator: clients connections to the server, each
// sending one request at a time (HTTP/1.1 keep-alive) over paths, spread so
// that clients ask for different numbers. With rate 0 each connection sends
// as soon as it has its answer; otherwise the connections together send rate
// requests a second on a fixed schedule and latency counts from when a
// request was due. It runs for d, or, when d is 0, until count requests were
// sent in all. Requests are written and answers parsed by hand, which costs
// the shared CPU far less than net/http's client.
func runLoad(base string, paths []string, clients, rate int, d time.Duration, count int) loadResult {
	addr := strings.TrimPrefix(base, "http://")
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + serviceKey +
			"\r\nUser-Agent: resolve-bench\r\nAccept: application/json\r\n\r\n")
	}
	var pace time.Duration // between two requests of one connection
	if rate > 0 {
		pace = time.Duration(float64(time.Second) * float64(clients) / float64(rate))
	}
	results := make([]loadResult, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			n := 0
			if count > 0 {
				n = count / clients
				if w < count%clients {
					n++
				}
			}
			lc := loadClient{addr: addr, reqs: reqs, offset: w * len(reqs) / clients, deadline: start.Add(d), n: n,
				pace: pace, first: start.Add(pace * time.Duration(w) / time.Duration(clients))}
			results[w] = lc.run()
		})
	}
	wg.Wait()
	var total loadResult
	total.elapsed = time.Since(start)
	for _, r := range results {
		total.requests += r.requests
		total.failures += r.failures
		if total.firstFailure == "" {
			total.firstFailure = r.firstFailure
		}
		total.latencies = append(total.latencies, r.latencies...)
	}
	slices.Sort(total.latencies)
	return total
}

// loadClient is one connection of the load generator.
type loadClient struct {
	addr     string
	reqs     [][]byte
	offset   int
	deadline time.Time     // when n is 0
	n        int           // requests to send; 0: until the deadline
	pace     time.Duration // 0: closed loop; else the schedule's step
	first    time.Time     // when the first scheduled request is due

	conn net.Conn
	br   *bufio.Reader
	res  loadResult
}

func (c *loadClient) fail(msg string) {
	c.res.failures++
	if c.res.firstFailure == "" {
		c.res.firstFailure = msg
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// run sends requests on one connection, reconnecting after an error.
func (c *loadClient) run() loadResult {
	c.res.latencies = make([]time.Duration, 0, 1<<15)
	for i := 0; c.n == 0 || i < c.n; i++ {
		t0 := time.Now()
		if c.pace > 0 {
			due := c.first.Add(c.pace * time.Duration(i))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			t0 = due
		}
		if c.n == 0 && time.Now().After(c.deadline) {
			break
		}
		if c.conn == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				c.fail(err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
		}
		c.res.requests++
		if _, err := c.conn.Write(c.reqs[(c.offset+i)%len(c.reqs)]); err != nil {
			c.fail(err.Error())
			continue
		}
		status, err := readResponse(c.br)
		c.res.latencies = append(c.res.latencies, time.Since(t0))
		if err != nil {
			c.fail(err.Error())
		} else if status != 200 {
			c.fail("status " + strconv.Itoa(status))
		}
	}
	if c.conn != nil {
		c.conn.Close()
	}
	return c.res
}

var contentLength = []byte("Content-Length:")

// readResponse reads one HTTP/1.1 response with a Content-Length body (what
// net/http sends for a small JSON answer) and returns its status.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || string(line[:5]) != "HTTP/" {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > len(contentLength) && bytes.EqualFold(h[:len(contentLength)], contentLength) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(h[len(contentLength):])))
			if err != nil {
				return 0, fmt.Errorf("bad content length %q", h)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
