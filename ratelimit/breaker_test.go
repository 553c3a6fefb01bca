package ratelimit

import (
	"errors"
	"tenant-service/internal/testkit"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	var changes []bool
	b := &breaker{threshold: 2, cooldown: time.Second, now: clock.Now,
		onChange: func(open bool, _ error) { changes = append(changes, open) }}
	boom := errors.New("boom")

	b.failure(boom)
	if !b.allow() || b.isOpen() {
		t.Fatal("opened below the threshold")
	}
	b.success() // a success resets the count
	b.failure(boom)
	if !b.allow() {
		t.Fatal("opened although the failures were not in a row")
	}
	b.failure(boom)
	if b.allow() || !b.isOpen() {
		t.Fatal("not open at the threshold")
	}

	clock.Advance(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the cool-down")
	}
	if b.allow() {
		t.Fatal("a second probe while the first is in flight")
	}
	b.failure(boom) // the probe fails: open again, without a second message
	if b.allow() {
		t.Fatal("allowed right after a failed probe")
	}

	clock.Advance(time.Second)
	if !b.allow() {
		t.Fatal("no probe after the second cool-down")
	}
	b.abandon() // the caller gave up: another probe may go
	if !b.allow() {
		t.Fatal("an abandoned probe blocks the next one")
	}
	b.success()
	if !b.allow() || b.isOpen() {
		t.Fatal("still open after a successful probe")
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("state changes %v, want [open close]", changes)
	}
}
