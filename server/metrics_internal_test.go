package server

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/shardingsystem/shard/kvpb"
)

func TestCountRequestsByType(t *testing.T) {
	m := newMetrics(nil)
	get := &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: []byte("a")}}}
	put := &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte("a")}}}
	m.countRequests(&kvpb.BatchRequest{Requests: []*kvpb.Request{get, get}})
	m.countRequests(&kvpb.BatchRequest{Requests: []*kvpb.Request{put, get, {}}})
	for typ, want := range map[string]float64{"get": 3, "put": 1, "unknown": 1, "scan": 0} {
		var out dto.Metric
		if err := m.kvRequests.WithLabelValues(typ).Write(&out); err != nil {
			t.Fatal(err)
		}
		if got := out.GetCounter().GetValue(); got != want {
			t.Errorf("%s requests counted %v, want %v", typ, got, want)
		}
	}
}
