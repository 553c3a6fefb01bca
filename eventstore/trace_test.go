package eventstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"tenant-service/domain"
	"tenant-service/eventstore"
	"tenant-service/internal/testkit"
)

// Two appends that commit in one group: the group's span is a child of the
// oldest one's span and links to the other's, which links back to it.
func TestGroupCommitSpanServesEveryAppend(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s, _ := newStoreWith(t, eventstore.Config{GroupsInFlight: 1, TracerProvider: tp})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appendIn := func(request string) (trace.SpanContext, error) {
		rctx, span := tp.Tracer("test").Start(ctx, request)
		defer span.End()
		id := domain.NewTenantID()
		_, err := s.Append(rctx, eventstore.Append{StreamID: id.StreamID(), TenantID: id, Events: []domain.Event{created(id, request)}})
		return span.SpanContext(), err
	}

	// The first append leads and is held until the two others wait behind
	// it; they then form the next group, oldest first.
	var held sync.Once
	holding := make(chan struct{})
	eventstore.HoldGroups(s, func(int) {
		held.Do(func() {
			close(holding)
			testkit.Until(t, 10*time.Second, "two appends to queue", func() bool { return eventstore.WaitingAppends(s) == 2 })
		})
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := appendIn("leader"); err != nil {
			t.Error(err)
		}
	})
	<-holding
	var oldest, younger trace.SpanContext
	wg.Go(func() {
		var err error
		if oldest, err = appendIn("oldest"); err != nil {
			t.Error(err)
		}
	})
	testkit.Until(t, 10*time.Second, "the oldest to queue", func() bool { return eventstore.WaitingAppends(s) == 1 })
	wg.Go(func() {
		var err error
		if younger, err = appendIn("younger"); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()

	byTrace := map[trace.TraceID][]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		byTrace[sp.SpanContext().TraceID()] = append(byTrace[sp.SpanContext().TraceID()], sp)
	}
	find := func(tid trace.TraceID, name string) sdktrace.ReadOnlySpan {
		t.Helper()
		for _, sp := range byTrace[tid] {
			if sp.Name() == name {
				return sp
			}
		}
		t.Fatalf("no %s span in trace %s", name, tid)
		return nil
	}
	appendOld := find(oldest.TraceID(), "eventstore.append")
	commit := find(oldest.TraceID(), "eventstore.commit")
	if commit.Parent().SpanID() != appendOld.SpanContext().SpanID() {
		t.Errorf("the group's span is not a child of the oldest append's")
	}
	appendYoung := find(younger.TraceID(), "eventstore.append")
	if len(byTrace[younger.TraceID()]) != 2 {
		t.Errorf("the younger request's trace has %d spans, want its own and its append's", len(byTrace[younger.TraceID()]))
	}
	if l := commit.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != appendYoung.SpanContext().SpanID() {
		t.Errorf("the group's span links %v, want the younger append's span", l)
	}
	if l := appendYoung.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != commit.SpanContext().SpanID() {
		t.Errorf("the younger append's span links %v, want the group's span", l)
	}
	if len(appendOld.Links()) != 0 {
		t.Errorf("the oldest append's span links %v, want none: the group's span is its child", appendOld.Links())
	}
}
