package process

import "syscall"

// GroupAttr puts a child in a process group of its own, so that a kill
// reaches its grandchildren, and has the kernel SIGKILL the direct child if
// Sirocco dies (recovery kills the rest of the group from the stored handle).
func GroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
