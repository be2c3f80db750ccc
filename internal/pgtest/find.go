package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrNotInstalled means PostgreSQL 15's programs were not found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL 15 is not installed")

// debianBinDir is where Debian's postgresql-15 package puts the programs.
const debianBinDir = "/usr/lib/postgresql/15/bin"

// Find returns the directory holding PostgreSQL 15's postgres and initdb
// and the other programs named: binDir if set, else `pg_config --bindir`,
// then the Debian directory. Its errors wrap ErrNotInstalled.
func Find(binDir string, programs ...string) (string, error) {
	var dirs []string
	if binDir != "" {
		dirs = []string{binDir}
	} else {
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
		dirs = append(dirs, debianBinDir)
	}
	var tried []string
	for _, d := range dirs {
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		if v := strings.TrimSpace(string(out)); !strings.Contains(v, " 15.") {
			tried = append(tried, fmt.Sprintf("%s: %s, not 15", d, v))
			continue
		}
		for _, prog := range append([]string{"initdb"}, programs...) {
			if _, err := os.Stat(filepath.Join(d, prog)); err != nil {
				return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
			}
		}
		return d, nil
	}
	return "", fmt.Errorf("%w (tried %s)", ErrNotInstalled, strings.Join(tried, "; "))
}

// Require is Find for a test: when PostgreSQL 15 is not installed it skips
// t, or fails it under CI=true; any other error fails it.
func Require(t testing.TB, binDir string, programs ...string) string {
	t.Helper()
	dir, err := Find(binDir, programs...)
	if err == nil {
		return dir
	}
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("%v; install the Debian packages postgresql and postgresql-client (.ci/run does)", err)
	}
	t.Fatal(err)
	return ""
}
