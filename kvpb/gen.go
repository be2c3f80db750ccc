// Package kvpb holds the protocol buffer messages shared by the range, kv and
// server layers. The generated code is committed; regenerate with
// `go generate ./kvpb/` (needs protoc, protoc-gen-go and
// protoc-gen-go-vtproto: the messages also get vtprotobuf's generated
// marshalling and cloning, which internal/vtcodec and kv's in-process
// calls use).
package kvpb

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative --go-vtproto_out=.. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size+clone kvpb/kv.proto
