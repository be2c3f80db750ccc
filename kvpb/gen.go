// Package kvpb holds the protocol buffer messages shared by the range, kv and
// server layers. The generated code is committed; regenerate with
// `go generate ./kvpb/` (needs protoc, protoc-gen-go).
package kvpb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative kvpb/kv.proto
