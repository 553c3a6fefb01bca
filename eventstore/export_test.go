package eventstore

// HoldGroups makes the store's group leader call hold with each group it
// took, before committing it: a test can let appends queue up behind it.
func HoldGroups(s *Store, hold func(n int)) { s.groups.hold = hold }

// WaitingAppends is how many appends wait for a group.
func WaitingAppends(s *Store) int { return s.groups.waiting() }

// Committers is how many committer goroutines run.
func Committers(s *Store) int {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	return s.groups.committers
}
