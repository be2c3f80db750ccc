// Copyright (c) shard authors
// SPDX-License-Identifier: MPL-2.0

// This file is shard's patch to hashicorp/raft; see PATCHES.md.

package raft

// getLog reads entry idx for a replicator: from the batch the leader is
// writing (Raft.staged) when it is there, else from the log store.
//
// dispatchLogs publishes a batch in r.staged before it makes the batch's
// last index visible (setLastLog), and withdraws it only after the store
// holds it, so an index up to getLastIndex() is always in one of the two.
// A batch's indexes are consecutive.
func (r *Raft) getLog(idx uint64, out *Log) error {
	if p := r.staged.Load(); p != nil {
		if logs := *p; len(logs) > 0 {
			if first := logs[0].Index; idx >= first && idx-first < uint64(len(logs)) {
				*out = *logs[idx-first]
				return nil
			}
		}
	}
	return r.logs.GetLog(idx, out)
}
