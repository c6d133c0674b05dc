package ui

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLogCut runs a log through the tail's reads and cuts with a small
// buffer: the stream always moves on (a finished try's log is sent whole;
// a running one's stops only at a partial last line shorter than a read),
// and a valid UTF-8 log never has a character split between two events.
func FuzzLogCut(f *testing.F) {
	f.Add([]byte(strings.Repeat("€", 40)), uint8(7), true)
	f.Add([]byte("first line\nsecond "), uint8(4), false)
	f.Add([]byte("a\n\n\xf0\x9f\x98\x80b\xe2\x82"), uint8(5), true)
	f.Add([]byte("\xff\xfe\xfd\xfc\xfb"), uint8(0), false)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, over bool) {
		bufSize := int(size)%64 + 1
		valid := utf8.Valid(data)
		off := 0
		for steps := 0; ; steps++ {
			if steps > len(data)+1 {
				t.Fatalf("no progress at %d of %d", off, len(data))
			}
			read := data[off:min(off+bufSize, len(data))]
			piece := cut(read, len(read) == bufSize, over)
			if len(piece) == 0 {
				break
			}
			if !bytes.HasPrefix(read, piece) {
				t.Fatalf("piece %q is not a prefix of the read %q", piece, read)
			}
			if valid && bufSize >= utf8.UTFMax && !utf8.Valid(piece) {
				t.Fatalf("a character is split: piece %q of %q (buffer %d)", piece, data, bufSize)
			}
			off += len(piece)
		}
		rest := data[off:]
		if over && len(rest) > 0 {
			t.Fatalf("a finished log stopped at %d of %d", off, len(data))
		}
		if !over && (len(rest) >= bufSize || bytes.IndexByte(rest, '\n') >= 0) {
			t.Fatalf("a running log stopped at %d of %d before %q", off, len(data), rest)
		}
	})
}
