package server

// countAction is replaced by the Prometheus counters.
func (s *Server) countAction(kind, reason string) {
	s.log.Debug("controller action done", "kind", kind, "reason", reason)
}
