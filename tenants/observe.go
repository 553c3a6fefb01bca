package tenants

import (
	"time"

	"tenant-service/domain"
)

// Observer is told what every command did, for metrics: its name (create,
// update, link_whatsapp, ...), the tenant (empty when none was named or
// made), the outcome and how long it took. Outcomes are "applied" (events
// recorded), "unchanged" (nothing to record), "duplicate" (an idempotent
// retry) and, for a refusal or failure, the error's kind (invalid,
// not_found, conflict, precondition, refused, unavailable, upstream, ...;
// internal for an unexpected one). It must be quick and safe for
// concurrent use.
type Observer interface {
	Command(command string, tenant domain.TenantID, outcome string, took time.Duration)
}

// Outcome names what a command did, as Observer reports it.
func Outcome(out domain.Outcome, err error) string {
	switch {
	case err != nil:
		return domain.KindOf(err).String()
	case out.Duplicate:
		return "duplicate"
	case len(out.Events) == 0:
		return "unchanged"
	}
	return "applied"
}

// observe reports a command to the observer; deferred with pointers, it
// sees the command's final answer.
func (s *Service) observe(command string, tenant *domain.TenantID, start time.Time, out *domain.Outcome, err *error) {
	if s.observer == nil {
		return
	}
	s.observer.Command(command, *tenant, Outcome(*out, *err), time.Since(start))
}
