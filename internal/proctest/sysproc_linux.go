package proctest

import "syscall"

// sysProcAttr makes the kernel SIGKILL the node when the thread that
// started it dies, so a crashed or timed-out test binary leaves no node
// behind. The Go runtime does not end its threads while the process lives
// (unless a goroutine exits while locked to one, which this package never
// does), so in practice the node dies with the test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// withParentDeathSignal adds sysProcAttr's parent-death signal to a.
func withParentDeathSignal(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		return sysProcAttr()
	}
	a.Pdeathsig = syscall.SIGKILL
	return a
}
