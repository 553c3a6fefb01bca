package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"tenant-service/domain"
	"tenant-service/internal/postgres"
)

// MaxScan bounds how many index entries one filtered page examines: a
// filter that matches rarely answers a short (even empty) page with a cursor
// to continue from, instead of reading the whole log for one page.
const MaxScan = 5000

// clockMargin is how far an event's occurred_at may be from its commit time
// (a transaction's length plus the replicas' clock skew) and still be found
// by the from/to filters, which are mapped to a position range by commit
// time. An event whose replica's clock was off by more may be missed.
const clockMargin = time.Minute

// Page is one page of a filtered read; see domain.EventPage.
type Page = domain.EventPage

// ReadFeed returns up to limit events of the global feed after position
// after that match f, in position order. Every filter is an index range
// scan: the tenant, an actor or each type picks its index ((tenant_id,
// global_position), (actor, global_position), (event_type,
// global_position)), from/to become a position range through the
// non-decreasing commit times, and the remaining filters are checked on at
// most MaxScan entries of that scan.
func (s *Reader) ReadFeed(ctx context.Context, after domain.Position, limit int, f Filter) (_ Page, err error) {
	defer postgres.ClassifyOn(&err)
	// The head first: the page's events are at or below it, or committed
	// since (then the head reported is the page's last position).
	head, err := s.HeadPosition(ctx)
	if err != nil {
		return Page{}, err
	}
	page, err := s.readFeed(ctx, after, limit, f)
	page.Head = max(head, domain.Position(lastPosition(page.Events)))
	return page, err
}

func lastPosition(events []domain.StoredEvent) int64 {
	if len(events) == 0 {
		return 0
	}
	return int64(events[len(events)-1].Position)
}

func (s *Reader) readFeed(ctx context.Context, after domain.Position, limit int, f Filter) (Page, error) {
	lo, hi, err := s.positionRange(ctx, f)
	if err != nil {
		return Page{}, err
	}
	lo = max(lo, after)
	if hi > 0 && lo >= hi-1 {
		return Page{}, nil
	}
	q := newFeedQuery(lo, hi)
	var primaries []string
	switch {
	case f.TenantID != "":
		primaries = []string{"tenant_id = " + q.arg(string(f.TenantID))}
	case f.Actor != "":
		primaries = []string{"metadata->>'actor' = " + q.arg(f.Actor)}
	case len(f.Types) > 0:
		for _, t := range f.Types {
			primaries = append(primaries, "event_type = "+q.arg(t))
		}
	default:
		primaries = []string{"true"}
	}
	// The filters not used to pick the index are checked on the scanned rows.
	checks := func(q *feedQuery) []string {
		var out []string
		if f.TenantID != "" && f.Actor != "" {
			out = append(out, "metadata->>'actor' = "+q.arg(f.Actor))
		}
		if len(f.Types) > 0 && (f.TenantID != "" || f.Actor != "") {
			out = append(out, "event_type = ANY("+q.arg(f.Types)+")")
		}
		return append(out, timeChecks(q, f)...)
	}
	return s.readPage(ctx, q, "global_position", primaries, checks, limit)
}

// timeChecks are the from/to conditions.
func timeChecks(q *feedQuery, f Filter) []string {
	var out []string
	if !f.From.IsZero() {
		out = append(out, "occurred_at >= "+q.arg(f.From))
	}
	if !f.To.IsZero() {
		out = append(out, "occurred_at < "+q.arg(f.To))
	}
	return out
}

// ReadStreamPage returns up to limit events of the stream with versions
// above after that match f, in version order: a range scan of (stream_id,
// version), the filters checked on at most MaxScan entries of it.
func (s *Reader) ReadStreamPage(ctx context.Context, streamID string, after domain.Version, limit int, f Filter) (_ Page, err error) {
	defer postgres.ClassifyOn(&err)
	q := &feedQuery{}
	primary := "stream_id = " + q.arg(streamID) + " AND version > " + q.arg(int64(after))
	checks := func(q *feedQuery) []string {
		var out []string
		if len(f.Types) > 0 {
			out = append(out, "event_type = ANY("+q.arg(f.Types)+")")
		}
		if f.Actor != "" {
			out = append(out, "metadata->>'actor' = "+q.arg(f.Actor))
		}
		return append(out, timeChecks(q, f)...)
	}
	return s.readPage(ctx, q, "version", []string{primary}, checks, limit)
}

// positionRange maps the from/to filters to positions: events with
// occurred_at at or after from lie above lo, those before to below hi (0: no
// bound), using the commit-time index with clockMargin of slack.
func (s *Reader) positionRange(ctx context.Context, f Filter) (lo, hi domain.Position, err error) {
	first := func(at time.Time) (domain.Position, bool, error) {
		var p int64
		err := s.pool.QueryRow(ctx, `SELECT global_position FROM es_events WHERE committed_at >= $1
			ORDER BY committed_at, global_position LIMIT 1`, at).Scan(&p)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, false, nil
		}
		return domain.Position(p), err == nil, err
	}
	if !f.From.IsZero() {
		p, ok, err := first(f.From.Add(-clockMargin))
		if err != nil {
			return 0, 0, fmt.Errorf("read events from %s: %w", f.From, err)
		}
		if !ok {
			return 0, 1, nil // nothing committed that late: an empty range
		}
		lo = p - 1
	}
	if !f.To.IsZero() {
		p, ok, err := first(f.To.Add(clockMargin))
		if err != nil {
			return 0, 0, fmt.Errorf("read events to %s: %w", f.To, err)
		}
		if ok {
			hi = p
		}
	}
	return lo, hi, nil
}

// feedQuery collects the arguments of a page query and its position range.
type feedQuery struct {
	args postgres.Args
	lo   domain.Position
	hi   domain.Position
}

func newFeedQuery(lo, hi domain.Position) *feedQuery { return &feedQuery{lo: lo, hi: hi} }

// arg adds an argument and returns its placeholder.
func (q *feedQuery) arg(v any) string { return q.args.Add(v) }

// readPage scans each primary condition's index range (at most MaxScan
// entries each, in order of col; the merged scan is cut to MaxScan too),
// keeps the rows that pass checks, and returns the first limit of them with
// the cursor of the next page.
func (s *Reader) readPage(ctx context.Context, q *feedQuery, col string, primaries []string, checks func(*feedQuery) []string, limit int) (Page, error) {
	bounds := ""
	if col == "global_position" {
		bounds = " AND global_position > " + q.arg(int64(q.lo))
		if q.hi > 0 {
			bounds += " AND global_position < " + q.arg(int64(q.hi))
		}
	}
	scanLimit := q.arg(MaxScan)
	branches := make([]string, len(primaries))
	for i, p := range primaries {
		branches[i] = fmt.Sprintf(`(SELECT %s FROM es_events WHERE %s%s ORDER BY %s LIMIT %s)`, eventColumns, p, bounds, col, scanLimit)
	}
	// The scan's arguments come first: the query of where the scan ended
	// takes them alone.
	scanArgs := len(q.args)
	where := "true"
	if c := checks(q); len(c) > 0 {
		where = strings.Join(c, " AND ")
	}
	return s.runPage(ctx, q, col, strings.Join(branches, " UNION ALL "), where, scanLimit, scanArgs, limit)
}

// pageSQL returns the query of the page's rows and the query of where the
// bounded scan ended (which takes the scan's arguments only).
func pageSQL(col, branches, where, scanLimit, limitArg string) (rows, end string) {
	scan := fmt.Sprintf(`(SELECT * FROM (%s) u ORDER BY %s LIMIT %s) scan`, branches, col, scanLimit)
	rows = fmt.Sprintf(`SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %s`, eventColumns, scan, where, col, limitArg)
	end = fmt.Sprintf(`SELECT count(*), COALESCE(max(%s), 0) FROM %s`, col, scan)
	return rows, end
}

// runPage runs the page query: the rows of the page and, only when the page
// is short, where the bounded scan ended (the next page starts there when
// the scan was cut at MaxScan entries).
func (s *Reader) runPage(ctx context.Context, q *feedQuery, col, branches, where, scanLimit string, scanArgs, limit int) (Page, error) {
	rowsSQL, endSQL := pageSQL(col, branches, where, scanLimit, q.arg(limit))
	if s.explain != nil {
		s.explain(rowsSQL, q.args)
		s.explain(endSQL, q.args[:scanArgs])
	}
	rows, err := s.pool.Query(ctx, rowsSQL, q.args...)
	if err != nil {
		return Page{}, fmt.Errorf("read events: %w", err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return Page{}, err
	}
	cursor := func(e domain.StoredEvent) int64 {
		if col == "version" {
			return int64(e.Version)
		}
		return int64(e.Position)
	}
	if len(events) == limit {
		return Page{Events: events, Next: cursor(events[len(events)-1])}, nil
	}
	var scanned, end int64
	if err := s.pool.QueryRow(ctx, endSQL, q.args[:scanArgs]...).Scan(&scanned, &end); err != nil {
		return Page{}, fmt.Errorf("read events: %w", err)
	}
	if scanned < MaxScan {
		return Page{Events: events}, nil
	}
	return Page{Events: events, Next: end}, nil
}
