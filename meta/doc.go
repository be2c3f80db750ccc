// Package meta owns the contents of the meta range: range descriptors, node
// records and the id counters, and the rules for changing them.
//
// The meta range (range 1, span [keys.MetaMin, keys.MetaMax)) is replicated
// like any range. Its records:
//
//   - /meta/desc/<end key>: the descriptor of the range ending there. Keying
//     by end key makes "which range holds K" one seek: the first descriptor
//     key above K (keys.RangeLookupKey). The meta range's own descriptor is
//     stored too, at /meta/desc/<MetaMax>, for listing; clients find the
//     meta range itself through seed addresses, never through this entry.
//   - /meta/node/<id>: the node's addresses.
//   - /meta/sys/last-range-id, /meta/sys/last-node-id: counters; an id is
//     handed out by a conditional put of counter+1, so never twice.
//
// This package does not talk to the network itself: it works over a DB
// (the kv client), and its decisions (ShouldReplace) are pure functions.
// See DESIGN.md in this directory for the invariants.
package meta
