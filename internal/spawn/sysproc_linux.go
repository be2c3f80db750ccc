package spawn

import "syscall"

// withParentDeathSignal makes the kernel SIGKILL the child when the thread
// that started it dies.
func withParentDeathSignal(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Pdeathsig = syscall.SIGKILL
	return a
}
