package wire

import "sync/atomic"

// Metrics is a snapshot of a Server's counters. The server layer exports
// them to Prometheus as shard_wire_<name>, e.g.
// shard_wire_connections_accepted_total.
type Metrics struct {
	// ConnectionsAccepted counts accepted connections, cancel requests
	// included; ConnectionsOpen is how many sessions are open now.
	ConnectionsAccepted uint64
	ConnectionsOpen     int64
	// AuthFailures counts failed authentications (wrong password or
	// unknown role alike); ProtocolErrors counts connections closed for a
	// protocol violation (08P01), oversized messages included.
	AuthFailures   uint64
	ProtocolErrors uint64
	// CancelRequests counts CancelRequest packets received; of those,
	// CancelsForwarded went to another node and CancelForwardFailures
	// could not be delivered there.
	CancelRequests        uint64
	CancelsForwarded      uint64
	CancelForwardFailures uint64
}

// serverMetrics holds the live counters behind Metrics.
type serverMetrics struct {
	accepted, authFailures, protocolErrors     atomic.Uint64
	cancelRequests, forwarded, forwardFailures atomic.Uint64
	open                                       atomic.Int64
}

// Metrics returns a snapshot of the server's counters.
func (s *Server) Metrics() Metrics {
	m := &s.metrics
	return Metrics{
		ConnectionsAccepted:   m.accepted.Load(),
		ConnectionsOpen:       m.open.Load(),
		AuthFailures:          m.authFailures.Load(),
		ProtocolErrors:        m.protocolErrors.Load(),
		CancelRequests:        m.cancelRequests.Load(),
		CancelsForwarded:      m.forwarded.Load(),
		CancelForwardFailures: m.forwardFailures.Load(),
	}
}
