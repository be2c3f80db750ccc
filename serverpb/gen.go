// Package serverpb holds the gRPC services of a shard node: Internal
// (node-to-node and kv client) and Admin (the CLI). The generated code is
// committed; regenerate with `go generate ./serverpb/` (needs protoc,
// protoc-gen-go and protoc-gen-go-grpc).
package serverpb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative --go-grpc_out=.. --go-grpc_opt=paths=source_relative serverpb/server.proto
