// Package serverpb holds the gRPC services of a shard node: Internal
// (node-to-node and kv client) and Admin (the CLI). The generated code is
// committed; regenerate with `go generate ./serverpb/` (needs protoc,
// protoc-gen-go, protoc-gen-go-grpc and protoc-gen-go-vtproto).
//
// Every process that uses these services marshals their messages with
// vtprotobuf's generated code (internal/vtcodec, registered here).
package serverpb

import _ "github.com/shardingsystem/shard/internal/vtcodec" // gRPC's "proto" codec

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative --go-grpc_out=.. --go-grpc_opt=paths=source_relative --go-vtproto_out=.. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size+clone serverpb/server.proto
