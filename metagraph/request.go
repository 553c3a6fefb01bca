package metagraph

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"tenant-service/internal/redact"
)

// maxBody bounds how much of an answer is read.
const maxBody = 1 << 20

// graphError is the wire shape of Graph's "error" object.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	FBTraceID   string `json:"fbtrace_id"`
	IsTransient bool   `json:"is_transient"`
}

// request is one Graph call.
type request struct {
	step    string
	method  string
	path    string     // after the version, starting with "/"
	query   url.Values // may hold secrets: never shown
	bearer  string     // Authorization: Bearer value; may be empty
	secrets []string   // values to scrub from any message
}

// do sends the request and decodes a successful answer into out.
func (c *Client) do(ctx context.Context, r request, out any) error {
	secrets := append([]string{c.appSecret, c.appToken()}, r.secrets...)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, nil)
	if err != nil {
		return &Error{Step: r.step, Message: "could not build the Graph request",
			Err: redact.Wrap(err, secrets...)}
	}
	req.Header.Set("Accept", "application/json")
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(r.step, err, secrets)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return transportError(r.step, err, secrets)
	}
	trace := resp.Header.Get("x-fb-trace-id")

	var envelope struct {
		Error *graphError `json:"error"`
	}
	jsonErr := json.Unmarshal(body, &envelope)
	if envelope.Error != nil {
		return refusal(r.step, resp.StatusCode, envelope.Error, trace, secrets)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{Step: r.step, HTTPStatus: resp.StatusCode, FBTraceID: trace,
			IsTransient: resp.StatusCode >= 500,
			Message:     "the Meta Graph API answered HTTP " + strconv.Itoa(resp.StatusCode)}
	}
	if jsonErr == nil {
		jsonErr = json.Unmarshal(body, out)
	}
	if jsonErr != nil {
		return &Error{Step: r.step, HTTPStatus: resp.StatusCode, FBTraceID: trace,
			Message: "the Meta Graph API sent an answer that is not the expected JSON",
			Err:     redact.Wrap(jsonErr, secrets...)}
	}
	return nil
}

// refusal turns Graph's error object into an *Error.
func refusal(step string, status int, g *graphError, trace string, secrets []string) *Error {
	e := &Error{Step: step, HTTPStatus: status, Code: g.Code, Subcode: g.Subcode, Type: g.Type,
		Message: redact.Scrub(g.Message, secrets...), UserTitle: redact.Scrub(g.UserTitle, secrets...),
		UserMessage: redact.Scrub(g.UserMessage, secrets...), FBTraceID: g.FBTraceID, IsTransient: g.IsTransient}
	if e.FBTraceID == "" {
		e.FBTraceID = trace
	}
	if e.Message == "" {
		e.Message = "the Meta Graph API refused the request"
	}
	return e
}

// transportError wraps a failure to get an answer. A *url.Error names the
// full URL, whose query holds the code, the client secret or the token, so
// the URL is rebuilt without its query and every known secret is scrubbed.
func transportError(step string, err error, secrets []string) *Error {
	e := &Error{Step: step, IsTransient: true, Err: redact.Wrap(err, secrets...)}
	if e.Timeout() {
		e.Message = "the Meta Graph API did not answer in time"
	} else {
		e.Message = "the Meta Graph API could not be reached"
	}
	return e
}
