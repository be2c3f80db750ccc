package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shardingsystem/shard/internal/rawnet"
	"github.com/shardingsystem/shard/serverpb"
	"github.com/shardingsystem/shard/sql"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/wire"
)

// RootPasswordFile is where a bootstrapping node stores the generated
// password of the SQL superuser root (mode 0600).
const RootPasswordFile = "root-password"

// startSQL starts the SQL layer: the catalog cache, the bootstrap of the
// SQL catalog on a new cluster, and the PostgreSQL listener.
func (s *Server) startSQL(ctx context.Context, bootstrap bool) error {
	s.catalog = catalog.NewCache(s.kv)
	if bootstrap {
		pw := s.cfg.RootPassword
		if pw == "" {
			pw = randomString(18)
			s.generatedPassword = pw
		}
		if err := os.WriteFile(filepath.Join(s.cfg.DataDir, RootPasswordFile), []byte(pw+"\n"), 0o600); err != nil {
			return fmt.Errorf("server: store root password: %w", err)
		}
		v, err := wire.MakeVerifier(pw)
		if err != nil {
			return err
		}
		bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = sql.Bootstrap(bctx, s.catalog, v)
		if err == nil {
			err = s.bootstrapAdminToken(bctx)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("server: bootstrap SQL catalog: %w", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := s.catalog.Refresh(rctx)
	cancel()
	if err != nil {
		s.log.Warn("catalog not loaded yet; will retry in the background", "err", err)
	}
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		s.catalog.Run(s.ctx, 500*time.Millisecond)
	}()
	s.sql = sql.NewServer(sql.Config{NodeID: s.id.NodeID, KV: s.kv, Catalog: s.catalog, Splitter: splitter{s},
		Insecure: s.cfg.Insecure, Logger: s.log, StorageQuota: s.storageQuota})
	if s.cfg.SQLAddr == "" {
		return nil
	}
	certsDir := s.cfg.CertsDir
	if certsDir == "" {
		certsDir = s.cfg.DataDir
	}
	host, _, _ := net.SplitHostPort(s.cfg.SQLAddr)
	tlsCfg, err := wire.LoadOrCreateCert(certsDir, []string{host})
	if err != nil {
		return fmt.Errorf("server: TLS certificate: %w", err)
	}
	wcfg := wire.DefaultConfig()
	wcfg.TLS = tlsCfg
	wcfg.Insecure = s.cfg.Insecure
	wcfg.NodeID = uint32(s.id.NodeID)
	wcfg.Logger = s.log
	wcfg.ForwardCancel = s.forwardCancel
	s.wire = wire.New(wcfg, s.sql)
	lis, err := net.Listen("tcp", s.cfg.SQLAddr)
	if err != nil {
		return fmt.Errorf("server: listen on sql address: %w", err)
	}
	s.sqlAddr = lis.Addr().String()
	lis = rawnet.Listen(lis)
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		if err := s.wire.Serve(lis); err != nil {
			s.log.Error("sql server", "err", err)
		}
	}()
	return nil
}

// GeneratedRootPassword returns the root password this node generated
// when it bootstrapped the cluster in this run ("" otherwise), for the
// CLI to print once.
func (s *Server) GeneratedRootPassword() string { return s.generatedPassword }

// forwardCancel sends a cancel request to the node that owns the session.
func (s *Server) forwardCancel(ctx context.Context, nodeID, pid, secret uint32) error {
	nodes, err := s.meta.Nodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.NodeId == uint64(nodeID) && n.SqlAddr != "" {
			addr := n.SqlAddr
			if strings.HasPrefix(addr, ":") {
				host, _, _ := net.SplitHostPort(n.RpcAddr)
				addr = net.JoinHostPort(host, strings.TrimPrefix(addr, ":"))
			}
			return wire.SendCancel(ctx, addr, pid, secret)
		}
	}
	return fmt.Errorf("server: node %d has no SQL address", nodeID)
}

// splitter lets the SQL layer split ranges.
type splitter struct{ s *Server }

// SplitAt splits the range holding key at key, unless key already starts a
// range.
func (sp splitter) SplitAt(ctx context.Context, key []byte) error {
	desc, err := sp.s.kv.LookupRange(ctx, key)
	if err != nil {
		return err
	}
	if bytes.Equal(desc.StartKey, key) {
		return nil
	}
	_, err = (&adminServer{s: sp.s}).SplitRange(ctx, &serverpb.SplitRangeRequest{Key: key})
	return err
}

// SQLAddr returns the address the SQL listener listens on ("" when none).
func (s *Server) SQLAddr() string { return s.sqlAddr }

// SQL returns the node's SQL server (nil before Start).
func (s *Server) SQL() *sql.Server { return s.sql }

var errInsecureNotLoopback = errors.New("--insecure is allowed only when every listen address is a loopback address")

// loopbackOnly reports whether every address listens on loopback only.
func loopbackOnly(addrs ...string) bool {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return false
		}
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}
