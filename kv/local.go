package kv

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// localInternal is the Internal service of this node for the hot paths,
// called in process: a batch for a range this node leads, and the TSO when
// it leads the meta range, skip gRPC's marshalling, HTTP/2 framing,
// loopback sockets and goroutine hand-offs. The other (admin) methods go
// through gRPC to this node as before. The in-process calls behave as the
// remote ones:
//
//   - the server sees a copy of the request and the caller gets a copy of
//     the response, so neither side can change what the other holds (the
//     server keeps request keys in its timestamp cache, load samples and
//     locks; its responses may point at its descriptors);
//   - errors come back as gRPC status errors, with the codes a remote call
//     would give (a context error as DeadlineExceeded or Canceled, an
//     error without a status as Unknown);
//   - the call runs on the caller's goroutine and context, so the
//     caller's deadline bounds it as it bounds the server's handler of a
//     remote call. Unlike a remote call, the caller cannot return before
//     the handler does.
//
// Call options are ignored (the pool's only ones are message size limits).
type localInternal struct {
	serverpb.InternalClient // over gRPC, for every other method
	srv                     serverpb.InternalServer
}

var _ serverpb.InternalClient = localInternal{}

// callLocal runs a handler on a copy of in and returns a copy of its
// response.
func callLocal[Req, Resp proto.Message](ctx context.Context, in Req, h func(context.Context, Req) (Resp, error)) (Resp, error) {
	var zero Resp
	if err := ctx.Err(); err != nil {
		return zero, unsentError{status.FromContextError(err).Err()}
	}
	out, err := h(ctx, clone(in))
	if err != nil {
		return zero, localStatus(err)
	}
	return clone(out), nil
}

// clone is a deep copy of m: vtprotobuf's generated one for our messages,
// protobuf-go's reflection-driven one for the rest.
func clone[M proto.Message](m M) M {
	if c, ok := any(m).(interface{ CloneMessageVT() proto.Message }); ok {
		return c.CloneMessageVT().(M)
	}
	return proto.Clone(m).(M)
}

// localStatus is err as a remote call would return it.
func localStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

func (l localInternal) Batch(ctx context.Context, in *kvpb.BatchRequest, _ ...grpc.CallOption) (*kvpb.BatchResponse, error) {
	return callLocal(ctx, in, l.srv.Batch)
}

func (l localInternal) GetTimestamps(ctx context.Context, in *serverpb.GetTimestampsRequest, _ ...grpc.CallOption) (*serverpb.GetTimestampsResponse, error) {
	return callLocal(ctx, in, l.srv.GetTimestamps)
}
