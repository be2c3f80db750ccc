//go:build !linux

package spawn

import "syscall"

// withParentDeathSignal: nothing to add without Linux's parent-death signal.
func withParentDeathSignal(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
