package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shardingsystem/shard/api"
)

// The node's HTTP listener (--http-addr): Prometheus metrics at /metrics,
// a health check at /health, the management API under /v1 (package api,
// served by platform.go), and for the admin token only, Go's profiles under
// /debug/pprof/ and POST /debug/store/flush.

// startHTTP binds the HTTP address and serves until stopHTTP.
func (s *Server) startHTTP() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("server: listen on http address %s: %w", s.cfg.HTTPAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"node_id": s.NodeID(), "cluster_id": s.ClusterID(), "status": "ok"})
	})
	h := api.NewHandler(s.platform, s.log)
	h.Register(mux)
	// Go's profiles, for the admin token only (they show the keys and
	// statements in flight).
	mux.Handle("GET /debug/pprof/", h.AdminOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", h.AdminOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", h.AdminOnly(http.HandlerFunc(pprof.Trace)))
	mux.Handle("POST /debug/store/flush", h.AdminOnly(http.HandlerFunc(s.serveFlush)))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.httpAddr = lis.Addr().String()
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		if err := s.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	return nil
}

// serveFlush writes the store's memtables to sstables and answers 204 once
// they are: shard bench does it after loading a workload's data, so that
// the run does not pay for flushing and compacting the load.
func (s *Server) serveFlush(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.Flush(); err != nil {
		api.WriteProblem(w, r, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "flush the store: %v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopHTTP stops the HTTP server, waiting briefly for requests in flight.
func (s *Server) stopHTTP() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

// HTTPAddr returns the address the HTTP listener is bound to ("" without
// one).
func (s *Server) HTTPAddr() string { return s.httpAddr }
