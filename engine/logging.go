package engine

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Log levels used by the engine (logger attribute subsystem=engine; lines
// from pebble itself also carry source=pebble):
//
//	Debug  per-operation detail: each ingested span, each exported span.
//	Info   lifecycle: open, close, pebble's informational messages, end of a
//	       write stall.
//	Warn   degraded but working: write stalls, slow disk operations,
//	       snapshots still open at Close.
//	Error  needs a human: background errors, detected data corruption,
//	       pebble fatal errors (which then panic).

// pebbleLogger adapts a slog.Logger to pebble.Logger.
type pebbleLogger struct{ l *slog.Logger }

var _ pebble.Logger = pebbleLogger{}

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// Fatalf is called by pebble on states it cannot continue from (for example
// corruption found in the middle of a write). Library code must not exit the
// process, so it logs and panics: the stack reaches the owner of the
// goroutine and tests can observe it.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	p.l.Error(msg, "fatal", true)
	panic("engine: pebble fatal error: " + msg)
}

// newEventListener routes the pebble events a human should hear about to
// the logger. The chatty ones (flushes, compactions, table creation) stay
// silent; Metrics counts them.
func newEventListener(l *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			l.Error("pebble background error", "err", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			l.Error("data corruption detected", "path", info.Path, "err", info.Details)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			l.Warn("disk slow", "path", info.Path, "op", fmt.Sprint(info.OpType), "duration", info.Duration)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			l.Warn("write stall begin", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			l.Info("write stall end")
		},
	}
}
