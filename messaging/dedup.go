package messaging

import (
	"container/list"
	"sync"
)

// seenSet remembers the most recent event ids, up to a fixed number; the
// least recently seen id is forgotten first. It is safe for concurrent use.
type seenSet struct {
	mu    sync.Mutex
	size  int
	order *list.List               // front = most recent
	ids   map[string]*list.Element // id → its element in order
}

// newSeenSet returns a set of up to size ids; size < 1 remembers nothing.
func newSeenSet(size int) *seenSet {
	return &seenSet{size: size, order: list.New(), ids: make(map[string]*list.Element)}
}

// Seen reports whether id is remembered, and marks it recent if so.
func (s *seenSet) Seen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.ids[id]
	if ok {
		s.order.MoveToFront(el)
	}
	return ok
}

// Add remembers id, forgetting the oldest id when the set is full.
func (s *seenSet) Add(id string) {
	if s.size < 1 || id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.ids[id]; ok {
		s.order.MoveToFront(el)
		return
	}
	s.ids[id] = s.order.PushFront(id)
	for s.order.Len() > s.size {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.ids, oldest.Value.(string))
	}
}

// Len returns the number of ids remembered.
func (s *seenSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
