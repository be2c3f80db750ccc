//go:build !linux

package proctest

import "syscall"

// sysProcAttr: without Linux's parent-death signal, only the cleanups stop
// nodes.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// withParentDeathSignal: nothing to add without Linux's parent-death signal.
func withParentDeathSignal(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
