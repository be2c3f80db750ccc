// Package vtcodec is the gRPC codec of a node: messages generated with
// vtprotobuf (kvpb, serverpb) marshal and unmarshal through their
// generated MarshalVT/UnmarshalVT code, the rest through gRPC's own proto
// codec.
//
// gRPC's proto codec goes through protobuf-go's reflection-driven tables
// for every message; a node spends a few per cent of its CPU there on a
// point select, whose request and response cross between nodes. The
// generated code does the same work without the tables.
//
// Importing the package registers the codec under gRPC's "proto" name, in
// place of the default, for every connection and server of the process.
// The wire format is protobuf's either way: a node with the codec talks to
// one without it.
package vtcodec
