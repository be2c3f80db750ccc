package history

import (
	"sync"
	"time"
)

// Recorder builds a history from concurrent clients. It is safe for
// concurrent use; each process must be driven by one goroutine at a time.
type Recorder struct {
	start time.Time

	mu sync.Mutex
	h  History
	// nextProcess numbers the processes that replace retired ones.
	nextProcess int
}

// NewRecorder returns a recorder whose clock starts now. Processes 0 to
// processes-1 are the initial ones; NewProcess hands out the next numbers.
func NewRecorder(processes int) *Recorder {
	return &Recorder{start: time.Now(), nextProcess: processes}
}

// Since returns the time since the recorder started, monotonic.
func (r *Recorder) Since() time.Duration { return time.Since(r.start) }

// Start returns the time the recorder started.
func (r *Recorder) Start() time.Time { return r.start }

// NewProcess returns a fresh process number, for a client whose process
// was retired by an Info completion.
func (r *Recorder) NewProcess() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.nextProcess
	r.nextProcess++
	return p
}

// Add stamps op with its index and time and appends it. It returns the
// stamped op.
func (r *Recorder) Add(op Op) Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = len(r.h)
	op.Time = time.Since(r.start)
	r.h = append(r.h, op)
	return op
}

// History returns a copy of the ops recorded so far.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(History(nil), r.h...)
}
