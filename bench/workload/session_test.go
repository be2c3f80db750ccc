package workload

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestRotateHosts(t *testing.T) {
	hosts := func(cfg *pgx.ConnConfig) string {
		s := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
		for _, f := range cfg.Fallbacks {
			s += fmt.Sprintf(",%s:%d", f.Host, f.Port)
		}
		return s
	}
	for id, want := range []string{
		"a:1,b:2,c:3", "b:2,c:3,a:1", "c:3,a:1,b:2", "a:1,b:2,c:3",
	} {
		cfg, err := pgx.ParseConfig("postgresql://u:p@a:1,b:2,c:3/db?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		rotateHosts(cfg, id)
		if got := hosts(cfg); got != want {
			t.Errorf("worker %d tries %s, want %s", id, got, want)
		}
	}
	cfg, err := pgx.ParseConfig("postgresql://u:p@a:1/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	rotateHosts(cfg, 5)
	if got := hosts(cfg); got != "a:1" {
		t.Errorf("one host: %s", got)
	}
}
