//go:build !linux

package process

import (
	"os"
	"syscall"
)

// GroupAttr puts a child in a process group of its own, so that a kill
// reaches its grandchildren. Outside Linux there is no parent-death signal:
// a child outlives a killed Sirocco until recovery kills its group.
func GroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// childPipe is os.Pipe elsewhere.
func childPipe() (r, w *os.File, err error) { return os.Pipe() }
