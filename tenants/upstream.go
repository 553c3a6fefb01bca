package tenants

import (
	"errors"
	"fmt"

	"tenant-service/domain"
	"tenant-service/genesys"
	"tenant-service/metagraph"
)

// genesysError turns a Genesys failure into a 502 that passes on Genesys'
// own words (never a secret).
func genesysError(err error) error {
	var ge *genesys.Error
	if !errors.As(err, &ge) {
		return err
	}
	msg, code := "Genesys Cloud did not answer the token request", "genesys-unavailable"
	if ge.HTTPStatus != 0 {
		msg, code = fmt.Sprintf("Genesys Cloud refused the token request (HTTP %d): %s", ge.HTTPStatus, ge.Code), "genesys-refused"
		if ge.Description != "" {
			msg += ": " + ge.Description
		}
	}
	return &domain.Error{Kind: domain.KindUpstream, Code: code, Detail: msg, Err: err,
		Upstream: map[string]any{"service": "genesys", "status": ge.HTTPStatus, "error": ge.Code,
			"description": ge.Description, "contextId": ge.ContextID}}
}

// graphError turns a Graph failure into a 502 with Meta's message and
// fbtrace_id, or a 400 for input Meta was never asked about.
func graphError(err error) error {
	if errors.Is(err, metagraph.ErrInvalidArgument) {
		return domain.Invalid(domain.FieldError{Field: "body", Message: err.Error()})
	}
	ge, ok := metagraph.AsError(err)
	if !ok {
		return err
	}
	msg := fmt.Sprintf("Meta Graph API failed at step %s", ge.Step)
	switch {
	case ge.Timeout():
		msg += ": no answer in time"
	case ge.HTTPStatus == 0:
		msg += ": could not reach it"
	default:
		msg += fmt.Sprintf(": %s (code %d", ge.Message, ge.Code)
		if ge.FBTraceID != "" {
			msg += ", fbtrace_id " + ge.FBTraceID
		}
		msg += ")"
	}
	return &domain.Error{Kind: domain.KindUpstream, Code: "meta-graph-error", Detail: msg, Err: err,
		Upstream: map[string]any{"service": "meta", "step": ge.Step, "status": ge.HTTPStatus, "code": ge.Code,
			"subcode": ge.Subcode, "type": ge.Type, "message": ge.Message, "fbtraceId": ge.FBTraceID}}
}
