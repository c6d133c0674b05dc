package sqlstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// watchFiles starts a goroutine that signals ch whenever another handle's
// notification file in the folder is written, until ctx ends. The kernel
// watch is in place when it returns, so no notification made afterwards
// is missed.
func (w *wakeState) watchFiles(ctx context.Context, ch chan<- struct{}) (bool, error) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return false, fmt.Errorf("watch %s: %w", w.dir, err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return false, fmt.Errorf("watch %s: inotify: %w", w.dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, w.dir, wakeMask); err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("watch %s: %w", w.dir, err)
	}
	// Non-blocking, so reads wait in the runtime's poller and Close ends
	// them.
	f := os.NewFile(uintptr(fd), "inotify:"+w.dir)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	w.watchers.Add(1)
	go func() {
		defer w.watchers.Done()
		defer stop()
		defer f.Close()
		buf := make([]byte, 16*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed: ctx ended
			}
			foreign, lost := readWakeEvents(buf[:n], w.origin)
			if lost {
				// The folder was removed, and the last file open in it
				// closed (a handle makes its file again when it finds it
				// removed): watch the new folder.
				rewatch(f, w.dir)
			}
			if foreign || lost {
				signal(ch)
			}
		}
	}()
	return true, nil
}

// rewatch makes the folder again and watches it with f, whose descriptor
// stays valid (not closed and reused) meanwhile.
func rewatch(f *os.File, dir string) {
	_ = os.MkdirAll(dir, 0o755)
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.InotifyAddWatch(int(fd), dir, wakeMask) })
	}
}

// wakeMask asks for writes into files of the folder.
const wakeMask = unix.IN_MODIFY

// inotifyHeader is the size of struct inotify_event before its name.
const inotifyHeader = unix.SizeofInotifyEvent

// readWakeEvents reads a buffer of inotify events: foreign says a file
// other than own was written (or events were dropped, so one may have
// been), lost that the watch ended (its folder was removed).
func readWakeEvents(buf []byte, own string) (foreign, lost bool) {
	for len(buf) >= inotifyHeader {
		mask := binary.NativeEndian.Uint32(buf[4:8])
		size := int(binary.NativeEndian.Uint32(buf[12:16]))
		if inotifyHeader+size > len(buf) {
			return true, lost // truncated: assume the worst
		}
		name := string(bytes.TrimRight(buf[inotifyHeader:inotifyHeader+size], "\x00"))
		buf = buf[inotifyHeader+size:]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			foreign = true
		case mask&unix.IN_IGNORED != 0:
			lost = true
		case mask&unix.IN_MODIFY != 0 && name != own:
			foreign = true
		}
	}
	return foreign, lost
}
