// Package raftpb holds the generated wire messages and gRPC service of the
// multi-raft transport in package replication. The generated files are
// committed, so building needs no protoc; after editing raft.proto run
//
//	go generate ./replication/raftpb/
//
// with protoc, protoc-gen-go, protoc-gen-go-grpc and protoc-gen-go-vtproto
// on PATH (vtprotobuf's marshalling, which internal/vtcodec uses).
//
// Every process that uses the service marshals its messages with
// vtprotobuf's generated code (internal/vtcodec, registered here).
package raftpb

import _ "github.com/shardingsystem/shard/internal/vtcodec" // gRPC's "proto" codec

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative --go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size+clone raft.proto
