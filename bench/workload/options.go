package workload

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Options configure a run. The zero value runs one worker until ctx is
// canceled, without a rate limit, with seed 0 and no output.
type Options struct {
	// Concurrency is the number of workers, each with its own connection
	// and random source; default 1.
	Concurrency int `json:"concurrency"`
	// Duration is how long the run measures after the ramp; 0 runs until
	// ctx is canceled.
	Duration time.Duration `json:"duration_ns"`
	// Ramp spreads the workers' starts over this time (worker i starts at
	// i·Ramp/Concurrency); what happens during it is printed but not
	// counted in the cumulative figures and the summary.
	Ramp time.Duration `json:"ramp_ns"`
	// MaxRate caps the rate of all workers together, in operations per
	// second, each worker getting MaxRate/Concurrency; 0 is unlimited.
	MaxRate float64 `json:"max_rate"`
	// Seed seeds every worker's random source (with the worker's index):
	// the same seed gives each worker the same sequence of choices.
	Seed uint64 `json:"seed"`
	// SkipSetup skips Workload.Setup: the run uses the data already there.
	SkipSetup bool `json:"skip_setup"`
	// Progress receives the per-second lines; nil prints none.
	Progress io.Writer `json:"-"`
	// Out receives the final summary; nil prints none.
	Out io.Writer `json:"-"`
}

// withDefaults returns o with its zero fields filled in.
func (o Options) withDefaults() Options {
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	return o
}

// Validate reports every problem of o.
func (o Options) Validate() error {
	var errs []error
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("workload: concurrency %d", o.Concurrency))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("workload: duration %v", o.Duration))
	}
	if o.Ramp < 0 {
		errs = append(errs, fmt.Errorf("workload: ramp %v", o.Ramp))
	}
	if o.MaxRate < 0 {
		errs = append(errs, fmt.Errorf("workload: max rate %v", o.MaxRate))
	}
	return errors.Join(errs...)
}
