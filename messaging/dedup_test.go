package messaging

import (
	"strconv"
	"testing"
)

func TestSeenSetForgetsLeastRecent(t *testing.T) {
	s := newSeenSet(3)
	for i := range 3 {
		s.Add(strconv.Itoa(i))
	}
	if !s.Seen("0") { // 0 becomes the most recent
		t.Fatal("0 forgotten too early")
	}
	s.Add("3") // evicts 1, the least recently seen
	for id, want := range map[string]bool{"0": true, "1": false, "2": true, "3": true, "4": false} {
		if got := s.Seen(id); got != want {
			t.Errorf("Seen(%s) = %v, want %v", id, got, want)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	s.Add("3")
	if s.Len() != 3 {
		t.Errorf("re-adding grew the set to %d", s.Len())
	}
}

func TestSeenSetDisabled(t *testing.T) {
	s := newSeenSet(-1)
	s.Add("a")
	if s.Seen("a") || s.Len() != 0 {
		t.Error("a disabled set remembered an id")
	}
}
