package replication

// HasState reports whether the group has any raft state on this node (a
// bootstrapped or contacted group has at least one log entry or a term).
// Only tests ask: OpenGroup decides about bootstrapping itself.
func (g *Group) HasState() bool {
	last, _ := g.logs.LastIndex()
	if last > 0 {
		return true
	}
	term, _ := g.logs.GetUint64([]byte("CurrentTerm"))
	return term > 0
}

// GroupOpenWait is how long the transport holds an RPC for a group that is
// not open (Hub.accept).
const GroupOpenWait = groupOpenWait
