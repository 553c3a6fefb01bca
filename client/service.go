package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"tenant-service/client/tenantcache"
)

// forcePosition is the minPosition that makes the service answer from
// PostgreSQL, which is always current: a position beyond the store's head
// is answered there (PRODUCT.md, "Freshness").
const forcePosition = math.MaxInt64

// maxIDLen is the longest id the service looks up; longer ones, and "", are
// not found without asking.
const maxIDLen = 128

// maxBody bounds a response body the client reads.
const maxBody = 4 << 20

// service calls the tenant service's HTTP API.
type service struct {
	base, key string
	http      *http.Client
}

// resolvePaths are the resolve routes per kind of key.
var resolvePaths = [...]string{
	tenantcache.KindTenant:      "/api/resolve/tenant/",
	tenantcache.KindPhoneNumber: "/api/resolve/whatsapp/",
	tenantcache.KindIntegration: "/api/resolve/genesys/",
}

// resolve asks the service for the context of the key, reflecting at least
// the events up to minPosition. A tenant-not-found problem is a negative
// answer, not an error.
func (s *service) resolve(ctx context.Context, kind tenantcache.Kind, id string, minPosition int64) (answer, error) {
	u := s.base + resolvePaths[kind] + url.PathEscape(id) + "?minPosition=" + strconv.FormatInt(minPosition, 10)
	var tc Context
	status, err := s.get(ctx, u, &tc)
	switch {
	case err != nil:
		return answer{}, err
	case status == http.StatusNotFound:
		return answer{}, nil
	case tc.TenantID == "":
		return answer{}, fmt.Errorf("GET %s: the answer has no tenantId", resolvePaths[kind]+"…")
	}
	return answer{Value: cached{tc}, Found: true}, nil
}

// envelope is the part of an event the client needs, in the service's event
// feed and in message bodies alike.
type envelope struct {
	TenantID string `json:"tenantId"`
	Type     string `json:"type"`
	Version  int64  `json:"version"`
	Position int64  `json:"position"`
	Data     struct {
		PhoneNumberID string `json:"phoneNumberId"`
		IntegrationID string `json:"integrationId"`
	} `json:"data"`
}

// change returns what the event means for the cache: its tenant's entries,
// and those of the phone number or integration id it names, may be stale.
func (e envelope) change() tenantcache.Change {
	ch := tenantcache.Change{TenantID: e.TenantID, Version: e.Version, Position: e.Position}
	if e.Data.PhoneNumberID != "" {
		ch.Keys = append(ch.Keys, tenantcache.Key{Kind: tenantcache.KindPhoneNumber, ID: e.Data.PhoneNumberID})
	}
	if e.Data.IntegrationID != "" {
		ch.Keys = append(ch.Keys, tenantcache.Key{Kind: tenantcache.KindIntegration, ID: e.Data.IntegrationID})
	}
	return ch
}

// feedPage is one page of GET /api/events.
type feedPage struct {
	Items      []envelope `json:"items"`
	NextCursor string     `json:"nextCursor"`
}

// events reads the global event feed after a position.
func (s *service) events(ctx context.Context, after int64, limit int) (feedPage, error) {
	var p feedPage
	u := s.base + "/api/events?afterPosition=" + strconv.FormatInt(after, 10) + "&limit=" + strconv.Itoa(limit)
	status, err := s.get(ctx, u, &p)
	if err == nil && status == http.StatusNotFound {
		err = errors.New("GET /api/events: 404")
	}
	return p, err
}

// head returns the position of the newest event in the feed (0 when there
// is none). The feed has no "last" query, so it searches: the question
// "is there an event after p?" costs one request of one event and flips
// from yes to no at the head.
func (s *service) head(ctx context.Context) (int64, error) {
	after := func(p int64) (int64, bool, error) {
		page, err := s.events(ctx, p, 1)
		if err != nil || len(page.Items) == 0 {
			return 0, false, err
		}
		return page.Items[0].Position, true, nil
	}
	lo, ok, err := after(0) // lo: a known event position (or 0)
	if err != nil || !ok {
		return 0, err
	}
	hi := lo + 1 // grows until nothing lies after it
	for {
		next, ok, err := after(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = next, 2*next+1
	}
	for hi-lo > 1 { // no event after hi; lo is an event
		mid := lo + (hi-lo)/2
		next, ok, err := after(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = next // beyond hi if committed meanwhile: then done
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// problem is the part of an RFC 9457 problem the client reads.
type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// get sends an authenticated GET and decodes a 200 body into out. A 404
// problem with code tenant-not-found returns (404, nil); every other status
// is an error.
func (s *service) get(ctx context.Context, u string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Accept", "application/json")
	res, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxBody)
	path := req.URL.Path
	switch res.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("GET %s: decode: %w", path, err)
		}
		return res.StatusCode, nil
	case http.StatusNotFound:
		var p problem
		_ = json.NewDecoder(body).Decode(&p)
		if p.Code == "tenant-not-found" {
			return res.StatusCode, nil
		}
		return res.StatusCode, &statusError{path: path, status: res.StatusCode, code: p.Code, detail: p.Detail}
	default:
		var p problem
		_ = json.NewDecoder(body).Decode(&p)
		return res.StatusCode, &statusError{path: path, status: res.StatusCode, code: p.Code, detail: p.Detail}
	}
}

// statusError is an answer of the service that is neither a result nor
// "not found".
type statusError struct {
	path   string
	status int
	code   string
	detail string
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.path, e.status, http.StatusText(e.status))
	if e.code != "" {
		msg += " (" + e.code + ")"
	}
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

// unavailable reports whether the error means the service did not answer
// usefully (network, 5xx, 429), as opposed to refusing the request.
func unavailable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 500 || se.status == http.StatusTooManyRequests
	}
	return err != nil
}
