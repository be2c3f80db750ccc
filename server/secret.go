package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/internal/rpcauth"
)

// The cluster secret guards the node's gRPC services (internal/rpcauth).
// resolveSecret decides this node's:
//
//   - the data directory's file, once there is one (a given secret must
//     match it);
//   - else the secret given (Config.ClusterSecret, SHARD_CLUSTER_SECRET),
//     which a joining node must have;
//   - else, for a node that creates a cluster, a new one, which the CLI
//     prints once;
//   - else, with --insecure (loopback only), none: the services are open.
func (s *Server) resolveSecret() (string, error) {
	cfg := s.cfg
	path := filepath.Join(cfg.DataDir, rpcauth.SecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		have := strings.TrimSpace(string(b))
		if cfg.ClusterSecret != "" && cfg.ClusterSecret != have {
			return "", fmt.Errorf("server: the cluster secret given is not the one in %s", path)
		}
		return have, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("server: read the cluster secret: %w", err)
	}
	secret := cfg.ClusterSecret
	switch {
	case secret != "":
	case cfg.Insecure:
		return "", nil
	case len(cfg.Join) > 0:
		return "", fmt.Errorf("server: joining a cluster needs its secret: set %s (the first node printed it and stored it in its data directory, file %s)",
			rpcauth.EnvSecret, rpcauth.SecretFile)
	default:
		secret = rpcauth.Generate()
		s.generatedSecret = secret
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: store the cluster secret: %w", err)
	}
	return secret, nil
}

// GeneratedClusterSecret returns the cluster secret this node made when it
// created the cluster in this run ("" otherwise), for the CLI to print once.
func (s *Server) GeneratedClusterSecret() string { return s.generatedSecret }

// dialOptions are the options of every outgoing node-to-node call: the
// secret, and the dialer (rpcDialOptions).
func (s *Server) dialOptions() []grpc.DialOption {
	return append(rpcauth.DialOptions(s.secret), s.cfg.rpcDialOptions()...)
}
