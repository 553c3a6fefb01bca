package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
)

// streamPath is the route of the live feed; the request deadline does not
// apply to it (a stream lasts as long as its client stays).
const streamPath = "/api/events/stream"

// Timing of the live feed.
const (
	streamKeepAlive = 15 * time.Second // a comment line, so proxies keep the connection
	streamPoll      = time.Second      // a read even without a wake-up: notifications can be lost
	streamRetry     = 2000             // ms a client waits before reconnecting
	streamPage      = maxPageSize      // events read per catch-up page
	streamWrite     = 30 * time.Second // one message must be written within this
)

// Commits wakes readers after events commit (the event store's Notifier).
// Must be safe for concurrent use.
type Commits interface {
	// Subscribe returns a channel that receives a value (coalesced) after
	// new events commit, and a function that ends the subscription.
	Subscribe() (<-chan struct{}, func())
}

// CloseStreams ends every open event stream and refuses new ones: the HTTP
// server calls it when it shuts down (http.Server.RegisterOnShutdown), so
// long-lived streams do not hold up a graceful shutdown. It is idempotent.
func (s *Server) CloseStreams() { s.closeStreams.Do(func() { close(s.streamsClosed) }) }

// eventStream serves the global feed as Server-Sent Events: each event once,
// in position order, from Last-Event-ID (or ?afterPosition=, or the current
// head when neither is given), first catching up page by page, then following
// new commits.
func (s *Server) eventStream(c *gin.Context) {
	after, ok := s.streamStart(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	go func() {
		select {
		case <-s.streamsClosed:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wake <-chan struct{}
	if s.cfg.Commits != nil {
		ch, unsubscribe := s.cfg.Commits.Subscribe()
		defer unsubscribe()
		wake = ch
	}
	// The first page is read before the answer starts, so a failing store
	// is a problem response rather than an empty stream.
	var first domain.EventPage
	var err error
	if after < 0 {
		first, err = s.app.Feed(ctx, 0, 1, domain.EventFilter{})
		after, first = int64(first.Head), domain.EventPage{}
	} else {
		first, err = s.app.Feed(ctx, domain.Position(after), streamPage, domain.EventFilter{})
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	out := &sseWriter{rc: http.NewResponseController(c.Writer), w: bufio.NewWriter(c.Writer)}
	// Nothing more is read from the client: no read deadline may end the
	// connection under the stream (a client that is gone fails a write).
	_ = out.rc.SetReadDeadline(time.Time{})
	out.printf("retry: %d\n\n", streamRetry)
	if !out.flush() {
		return
	}
	last, ok := out.events(first.Events, domain.Position(after))
	if !ok {
		return
	}
	full := len(first.Events) == streamPage
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	for {
		if !full {
			select {
			case <-ctx.Done():
				return
			case <-keepAlive.C:
				out.printf(": keepalive\n\n")
				if !out.flush() {
					return
				}
				continue
			case <-wake:
			case <-poll.C:
			}
		}
		page, err := s.app.Feed(ctx, last, streamPage, domain.EventFilter{})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The client resumes from the last event it got; the next poll
			// tries again.
			s.log.WarnContext(ctx, "event stream read failed", "error", err, "after", int64(last))
			full = false
			continue
		}
		if last, ok = out.events(page.Events, last); !ok {
			return
		}
		full = len(page.Events) == streamPage
	}
}

// streamStart reads where the stream starts: Last-Event-ID, else
// ?afterPosition=; -1 when neither is given (start at the head).
func (s *Server) streamStart(c *gin.Context) (int64, bool) {
	if raw, ok := c.Request.Header["Last-Event-Id"]; ok && len(raw) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(raw[0]), 10, 64)
		if err != nil || n < 0 {
			s.invalid(c, "Last-Event-ID", "must be the id of an event of this stream: a whole number, 0 or more")
			return 0, false
		}
		return n, true
	}
	if _, ok := c.GetQuery("afterPosition"); !ok {
		return -1, true
	}
	n, err := strconv.ParseInt(c.Query("afterPosition"), 10, 64)
	if err != nil || n < 0 {
		s.invalid(c, "afterPosition", "must be a whole number, 0 or more")
		return 0, false
	}
	return n, true
}

// sseWriter writes Server-Sent Events messages and remembers the first
// write error (a client that went away).
type sseWriter struct {
	rc  *http.ResponseController
	w   *bufio.Writer
	err error
}

func (o *sseWriter) printf(format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, args...)
	}
}

// events sends one message per event (its data as GET /api/events shows
// it, secrets left out), each flushed as it is written, and returns the
// position of the last one sent; false when the client is gone.
func (o *sseWriter) events(events []domain.StoredEvent, last domain.Position) (domain.Position, bool) {
	for _, v := range eventViews(events) {
		data, err := json.Marshal(v)
		if err != nil {
			o.err = fmt.Errorf("encode event %d: %w", v.Position, err)
			return last, false
		}
		o.printf("id: %d\nevent: %s\ndata: %s\n\n", v.Position, v.Type, data)
		if !o.flush() {
			return last, false
		}
		last = v.Position
	}
	return last, true
}

// flush sends what was written, each time with a fresh write deadline (the
// server's WriteTimeout would otherwise end a stream that lasts); false
// when the client is gone.
func (o *sseWriter) flush() bool {
	if o.err != nil {
		return false
	}
	_ = o.rc.SetWriteDeadline(time.Now().Add(streamWrite)) // not every writer supports deadlines
	if o.err = o.w.Flush(); o.err != nil {
		return false
	}
	o.err = o.rc.Flush()
	return o.err == nil
}
