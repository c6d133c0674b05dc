package process

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReadSmall: a file read with plain system calls is whole, whether it
// fits the buffer or not.
func TestReadSmall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, size := range []int{0, 1, 1023, 1024, 1025, 5000} {
		want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		var buf [1024]byte
		got, err := readSmall(path, buf[:])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
	if _, err := readSmall(filepath.Join(dir, "missing"), nil); !os.IsNotExist(err) {
		t.Errorf("missing file: %v; want not-exist", err)
	}
	if StartTime(os.Getpid()) == 0 {
		t.Error("StartTime of this process is 0")
	}
}

// TestNthField: StartTime's field lookup, as strings.Fields would index.
func TestNthField(t *testing.T) {
	t.Parallel()
	line := []byte(" S 1 2  3\t4\n")
	for n, want := range []string{"S", "1", "2", "3", "4"} {
		if got := nthField(line, n); string(got) != want {
			t.Errorf("field %d = %q; want %q", n, got, want)
		}
	}
	if got := nthField(line, 5); got != nil {
		t.Errorf("field 5 = %q; want none", got)
	}
}
