// Package keys defines the layout of shard's single ordered keyspace: which
// byte prefixes belong to node-local state, to the meta range and to user
// data, and how keys are printed for people.
//
// The keyspace, in order:
//
//	\x01 ...               local: never part of any range, never replicated
//	  \x01n<suffix>          node-local identity (cluster id, node id)
//	  \x01r<range id:8>...   per-replica state: raft log, raft stable store,
//	                         applied index, the replica's descriptor
//	\x02 ... \x03          the meta range (range 1), printed as /meta/...
//	  \x02d<end key>         range descriptors, keyed by their end key so that
//	                         "which range holds K" is one seek to the first
//	                         descriptor whose end key is > K
//	  \x02n<node id:8>       node records (address, state)
//	  \x02s<name>            system counters (next range id, next node id)
//	\x03 ... \xff\xff      user data: every range except the meta range
//
// Invariants:
//   - Range spans tile [MetaMin, KeyMax) with no gap and no overlap; the meta
//     range is exactly [MetaMin, MetaMax) and is never split.
//   - A user key is at least UserMin and below KeyMax: keys that would fall in
//     the local or meta prefixes are refused at the edge (kv, CLI, SQL).
//
// This package is a leaf: it imports nothing of ours.
package keys
