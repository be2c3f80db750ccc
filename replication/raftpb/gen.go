// Package raftpb holds the generated wire messages and gRPC service of the
// multi-raft transport in package replication. The generated files are
// committed, so building needs no protoc; after editing raft.proto run
//
//	go generate ./replication/raftpb/
//
// with protoc, protoc-gen-go and protoc-gen-go-grpc on PATH.
package raftpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative raft.proto
