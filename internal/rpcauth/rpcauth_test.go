package rpcauth

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestSecret: a server with a secret answers callers that send it and
// refuses the others (no secret, a wrong one); without a secret it answers
// everyone.
func TestSecret(t *testing.T) {
	serve := func(secret string) string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(ServerOptions(secret)...)
		healthpb.RegisterHealthServer(s, health.NewServer())
		go func() { _ = s.Serve(lis) }()
		t.Cleanup(s.Stop)
		return lis.Addr().String()
	}
	call := func(addr, secret string) codes.Code {
		conn, err := grpc.NewClient(addr, DialOptions(secret)...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		return status.Code(err)
	}
	secret := Generate()
	guarded := serve(secret)
	if c := call(guarded, secret); c != codes.OK {
		t.Fatalf("with the secret: %v", c)
	}
	for _, bad := range []string{"", Generate(), secret + "x"} {
		if c := call(guarded, bad); c != codes.Unauthenticated {
			t.Fatalf("with secret %q: %v, want Unauthenticated", bad, c)
		}
	}
	if c := call(serve(""), ""); c != codes.OK {
		t.Fatalf("an open server: %v", c)
	}
}
