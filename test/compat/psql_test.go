package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// psqlTimeout bounds one psql process.
const psqlTimeout = 2 * time.Minute

// psqlArgs are the options of every psql run: no psqlrc, go on after
// errors, print errors as their SQLSTATE only (the wording of messages may
// differ), no pager. Unlike -q, they leave command tags (INSERT 0 1,
// UPDATE 2) in the output: they are part of what is compared. Scripts run
// with --echo-all as well, so that their output reads as statement, then
// result; they also begin with `\set VERBOSITY sqlstate` so that they read
// the same when run by hand.
var psqlArgs = []string{"-X", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=sqlstate", "-P", "pager=off"}

// psql runs psql with extra arguments against database db on srv (its
// first address) and returns what it printed, stdout and stderr merged in
// the order psql wrote them (psql flushes stdout before writing to
// stderr), normalized; a non-zero exit status is appended as a last line.
func (s *suite) psql(srv server, db string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), psqlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), append(append([]string(nil), psqlArgs...), args...)...)
	cmd.Env = srv.env(db)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := normalizePsql(out.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		text += fmt.Sprintf("[psql exited with status %d]\n", ee.ExitCode())
	default:
		return text, fmt.Errorf("psql %s on %s: %v", strings.Join(args, " "), srv.describe(), err)
	}
	return text, nil
}

// psqlLocation is the "psql:FILE:LINE: " prefix of a message about a
// script line.
var psqlLocation = regexp.MustCompile(`(?m)^psql:[^\n]*?:[0-9]+: `)

// normalizePsql removes what differs between runs of the same script
// that are both correct: the file:line prefix of messages.
func normalizePsql(s string) string {
	return psqlLocation.ReplaceAllString(s, "")
}
