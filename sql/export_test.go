package sql

// SetRowIDClock makes s's row ids from clock (microseconds) and forgets
// the last one made, as a restart would.
func (s *Server) SetRowIDClock(clock func() int64) {
	s.rowIDs.mu.Lock()
	defer s.rowIDs.mu.Unlock()
	s.rowIDs.micros, s.rowIDs.last = clock, 0
}
