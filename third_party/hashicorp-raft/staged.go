// Copyright (c) shard authors
// SPDX-License-Identifier: MPL-2.0

// This file is shard's patch to hashicorp/raft; see PATCHES.md.

package raft

import (
	"errors"
	"fmt"
)

// errWithdrawn: a replicator asked for an entry of a batch whose write
// failed on the leader (dispatchLogs). It must not be read as
// ErrLogNotFound, which sends the follower a snapshot.
var errWithdrawn = errors.New("the leader failed to write the entry")

// getLog reads entry idx for a replicator: from the batch the leader is
// writing (Raft.staged) when it is there, else from the log store.
//
// dispatchLogs publishes a batch in r.staged before it makes the batch's
// last index visible (setLastLog), and withdraws it only after the store
// holds it, so an index up to getLastIndex() is always in one of the two.
// When the write fails, the last index goes back first and the batch is
// withdrawn after, so a replicator that missed the batch finds its index
// beyond the last one. A batch's indexes are consecutive.
func (r *Raft) getLog(idx uint64, out *Log) error {
	if p := r.staged.Load(); p != nil {
		if logs := *p; len(logs) > 0 {
			if first := logs[0].Index; idx >= first && idx-first < uint64(len(logs)) {
				*out = *logs[idx-first]
				return nil
			}
		}
	}
	err := r.logs.GetLog(idx, out)
	if errors.Is(err, ErrLogNotFound) && idx > r.getLastIndex() {
		return fmt.Errorf("entry %d: %w", idx, errWithdrawn)
	}
	return err
}
