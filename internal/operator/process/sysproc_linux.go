package process

import (
	"os"
	"syscall"
)

// GroupAttr puts a child in a process group of its own, so that a kill
// reaches its grandchildren, and has the kernel SIGKILL the direct child if
// Sirocco dies (recovery kills the rest of the group from the stored handle).
func GroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// childPipe is os.Pipe with only our (read) end non-blocking and in the
// runtime's poller. The child's end stays a plain blocking descriptor, as
// a child expects it: os.Pipe would register it in the poller, exec would
// take it out again to hand it over (File.Fd), and Close would once more,
// a dozen system calls per pipe on every start.
func childPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
