package replication

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// Conversions between hashicorp/raft's RPC structs and their wire messages.
// They are lossless: every field of the raft structs has a field on the
// wire. Byte slices are shared, not copied: proto.Marshal copies them on the
// way out, and unmarshaled messages own fresh slices that raft may keep.

func encodeHeader(h raft.RPCHeader) *raftpb.RPCHeader {
	return &raftpb.RPCHeader{ProtocolVersion: int64(h.ProtocolVersion), Id: h.ID, Addr: h.Addr}
}

func decodeHeader(h *raftpb.RPCHeader) raft.RPCHeader {
	return raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersion(h.GetProtocolVersion()),
		ID:              h.GetId(),
		Addr:            h.GetAddr(),
	}
}

func encodeTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func decodeTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func encodeEntries(logs []*raft.Log) []*raftpb.Log {
	if len(logs) == 0 {
		return nil
	}
	out := make([]*raftpb.Log, len(logs))
	for i, l := range logs {
		out[i] = &raftpb.Log{
			Index:              l.Index,
			Term:               l.Term,
			Type:               raftpb.LogType(l.Type),
			Data:               l.Data,
			Extensions:         l.Extensions,
			AppendedAtUnixNano: encodeTime(l.AppendedAt),
		}
	}
	return out
}

func decodeEntries(logs []*raftpb.Log) []*raft.Log {
	if len(logs) == 0 {
		return nil
	}
	// One allocation for all entries of the batch.
	backing := make([]raft.Log, len(logs))
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		backing[i] = raft.Log{
			Index:      l.GetIndex(),
			Term:       l.GetTerm(),
			Type:       raft.LogType(l.GetType()),
			Data:       l.GetData(),
			Extensions: l.GetExtensions(),
			AppendedAt: decodeTime(l.GetAppendedAtUnixNano()),
		}
		out[i] = &backing[i]
	}
	return out
}

func encodeAppendEntriesRequest(id GroupID, r *raft.AppendEntriesRequest) *raftpb.AppendEntriesRequest {
	return &raftpb.AppendEntriesRequest{
		GroupId:           uint64(id),
		Header:            encodeHeader(r.RPCHeader),
		Term:              r.Term,
		Leader:            r.Leader,
		PrevLogEntry:      r.PrevLogEntry,
		PrevLogTerm:       r.PrevLogTerm,
		Entries:           encodeEntries(r.Entries),
		LeaderCommitIndex: r.LeaderCommitIndex,
	}
}

func decodeAppendEntriesRequest(r *raftpb.AppendEntriesRequest) *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{
		RPCHeader:         decodeHeader(r.GetHeader()),
		Term:              r.GetTerm(),
		Leader:            r.GetLeader(),
		PrevLogEntry:      r.GetPrevLogEntry(),
		PrevLogTerm:       r.GetPrevLogTerm(),
		Entries:           decodeEntries(r.GetEntries()),
		LeaderCommitIndex: r.GetLeaderCommitIndex(),
	}
}

func encodeAppendEntriesResponse(r *raft.AppendEntriesResponse) *raftpb.AppendEntriesResponse {
	return &raftpb.AppendEntriesResponse{
		Header:         encodeHeader(r.RPCHeader),
		Term:           r.Term,
		LastLog:        r.LastLog,
		Success:        r.Success,
		NoRetryBackoff: r.NoRetryBackoff,
	}
}

func decodeAppendEntriesResponse(r *raftpb.AppendEntriesResponse, out *raft.AppendEntriesResponse) {
	*out = raft.AppendEntriesResponse{
		RPCHeader:      decodeHeader(r.GetHeader()),
		Term:           r.GetTerm(),
		LastLog:        r.GetLastLog(),
		Success:        r.GetSuccess(),
		NoRetryBackoff: r.GetNoRetryBackoff(),
	}
}

func encodeRequestVoteRequest(id GroupID, r *raft.RequestVoteRequest) *raftpb.RequestVoteRequest {
	return &raftpb.RequestVoteRequest{
		GroupId:            uint64(id),
		Header:             encodeHeader(r.RPCHeader),
		Term:               r.Term,
		Candidate:          r.Candidate,
		LastLogIndex:       r.LastLogIndex,
		LastLogTerm:        r.LastLogTerm,
		LeadershipTransfer: r.LeadershipTransfer,
	}
}

func decodeRequestVoteRequest(r *raftpb.RequestVoteRequest) *raft.RequestVoteRequest {
	return &raft.RequestVoteRequest{
		RPCHeader:          decodeHeader(r.GetHeader()),
		Term:               r.GetTerm(),
		Candidate:          r.GetCandidate(),
		LastLogIndex:       r.GetLastLogIndex(),
		LastLogTerm:        r.GetLastLogTerm(),
		LeadershipTransfer: r.GetLeadershipTransfer(),
	}
}

func encodeRequestVoteResponse(r *raft.RequestVoteResponse) *raftpb.RequestVoteResponse {
	return &raftpb.RequestVoteResponse{
		Header:  encodeHeader(r.RPCHeader),
		Term:    r.Term,
		Peers:   r.Peers,
		Granted: r.Granted,
	}
}

func decodeRequestVoteResponse(r *raftpb.RequestVoteResponse, out *raft.RequestVoteResponse) {
	*out = raft.RequestVoteResponse{
		RPCHeader: decodeHeader(r.GetHeader()),
		Term:      r.GetTerm(),
		Peers:     r.GetPeers(),
		Granted:   r.GetGranted(),
	}
}

func encodeRequestPreVoteRequest(id GroupID, r *raft.RequestPreVoteRequest) *raftpb.RequestPreVoteRequest {
	return &raftpb.RequestPreVoteRequest{
		GroupId:      uint64(id),
		Header:       encodeHeader(r.RPCHeader),
		Term:         r.Term,
		LastLogIndex: r.LastLogIndex,
		LastLogTerm:  r.LastLogTerm,
	}
}

func decodeRequestPreVoteRequest(r *raftpb.RequestPreVoteRequest) *raft.RequestPreVoteRequest {
	return &raft.RequestPreVoteRequest{
		RPCHeader:    decodeHeader(r.GetHeader()),
		Term:         r.GetTerm(),
		LastLogIndex: r.GetLastLogIndex(),
		LastLogTerm:  r.GetLastLogTerm(),
	}
}

func encodeRequestPreVoteResponse(r *raft.RequestPreVoteResponse) *raftpb.RequestPreVoteResponse {
	return &raftpb.RequestPreVoteResponse{
		Header:  encodeHeader(r.RPCHeader),
		Term:    r.Term,
		Granted: r.Granted,
	}
}

func decodeRequestPreVoteResponse(r *raftpb.RequestPreVoteResponse, out *raft.RequestPreVoteResponse) {
	*out = raft.RequestPreVoteResponse{
		RPCHeader: decodeHeader(r.GetHeader()),
		Term:      r.GetTerm(),
		Granted:   r.GetGranted(),
	}
}

func encodeTimeoutNowRequest(id GroupID, r *raft.TimeoutNowRequest) *raftpb.TimeoutNowRequest {
	return &raftpb.TimeoutNowRequest{GroupId: uint64(id), Header: encodeHeader(r.RPCHeader)}
}

func decodeTimeoutNowRequest(r *raftpb.TimeoutNowRequest) *raft.TimeoutNowRequest {
	return &raft.TimeoutNowRequest{RPCHeader: decodeHeader(r.GetHeader())}
}

func encodeTimeoutNowResponse(r *raft.TimeoutNowResponse) *raftpb.TimeoutNowResponse {
	return &raftpb.TimeoutNowResponse{Header: encodeHeader(r.RPCHeader)}
}

func decodeTimeoutNowResponse(r *raftpb.TimeoutNowResponse, out *raft.TimeoutNowResponse) {
	*out = raft.TimeoutNowResponse{RPCHeader: decodeHeader(r.GetHeader())}
}

func encodeInstallSnapshotRequest(id GroupID, r *raft.InstallSnapshotRequest) *raftpb.InstallSnapshotRequest {
	return &raftpb.InstallSnapshotRequest{
		GroupId:            uint64(id),
		Header:             encodeHeader(r.RPCHeader),
		SnapshotVersion:    int64(r.SnapshotVersion),
		Term:               r.Term,
		Leader:             r.Leader,
		LastLogIndex:       r.LastLogIndex,
		LastLogTerm:        r.LastLogTerm,
		Peers:              r.Peers,
		Configuration:      r.Configuration,
		ConfigurationIndex: r.ConfigurationIndex,
		Size:               r.Size,
	}
}

func decodeInstallSnapshotRequest(r *raftpb.InstallSnapshotRequest) *raft.InstallSnapshotRequest {
	return &raft.InstallSnapshotRequest{
		RPCHeader:          decodeHeader(r.GetHeader()),
		SnapshotVersion:    raft.SnapshotVersion(r.GetSnapshotVersion()),
		Term:               r.GetTerm(),
		Leader:             r.GetLeader(),
		LastLogIndex:       r.GetLastLogIndex(),
		LastLogTerm:        r.GetLastLogTerm(),
		Peers:              r.GetPeers(),
		Configuration:      r.GetConfiguration(),
		ConfigurationIndex: r.GetConfigurationIndex(),
		Size:               r.GetSize(),
	}
}

func encodeInstallSnapshotResponse(r *raft.InstallSnapshotResponse) *raftpb.InstallSnapshotResponse {
	return &raftpb.InstallSnapshotResponse{
		Header:  encodeHeader(r.RPCHeader),
		Term:    r.Term,
		Success: r.Success,
	}
}

func decodeInstallSnapshotResponse(r *raftpb.InstallSnapshotResponse, out *raft.InstallSnapshotResponse) {
	*out = raft.InstallSnapshotResponse{
		RPCHeader: decodeHeader(r.GetHeader()),
		Term:      r.GetTerm(),
		Success:   r.GetSuccess(),
	}
}
