package sqlstore

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// inotifyEvent encodes one struct inotify_event with its name padded as
// the kernel pads it.
func inotifyEvent(mask uint32, name string) []byte {
	size := 0
	if name != "" {
		size = (len(name) + 1 + 15) / 16 * 16
	}
	b := make([]byte, unix.SizeofInotifyEvent+size)
	binary.NativeEndian.PutUint32(b[4:8], mask)
	binary.NativeEndian.PutUint32(b[12:16], uint32(size))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestReadWakeEvents(t *testing.T) {
	const own = "42-abcd"
	cat := func(evs ...[]byte) []byte {
		var b []byte
		for _, e := range evs {
			b = append(b, e...)
		}
		return b
	}
	tests := []struct {
		name          string
		buf           []byte
		foreign, lost bool
	}{
		{"own file only", cat(inotifyEvent(unix.IN_MODIFY, own), inotifyEvent(unix.IN_MODIFY, own)), false, false},
		{"another file", inotifyEvent(unix.IN_MODIFY, "7-0000"), true, false},
		{"own then another", cat(inotifyEvent(unix.IN_MODIFY, own), inotifyEvent(unix.IN_MODIFY, "7-0000")), true, false},
		{"a name that only starts like ours", inotifyEvent(unix.IN_MODIFY, own+"0"), true, false},
		{"events were dropped", inotifyEvent(unix.IN_Q_OVERFLOW, ""), true, false},
		{"the folder went away", inotifyEvent(unix.IN_IGNORED, ""), false, true},
		{"truncated", inotifyEvent(unix.IN_MODIFY, own)[:unix.SizeofInotifyEvent+2], true, false},
		{"empty", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			foreign, lost := readWakeEvents(tt.buf, own)
			if foreign != tt.foreign || lost != tt.lost {
				t.Errorf("readWakeEvents = %v, %v; want %v, %v", foreign, lost, tt.foreign, tt.lost)
			}
		})
	}
}
