package tasklog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAddSecretMasksLaterLines(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	w.now = fixedClock(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	w.Printf("before: hunter22")
	w.AddSecret("hunter22")
	w.AddSecret("hunter22") // twice is once
	w.AddSecret("abc")      // too short to mask
	w.Printf("after: hunter22 and hunter22, abc")
	fmt.Fprint(w, "split: hun")
	fmt.Fprint(w, "ter22\n")
	fmt.Fprint(w, "unterminated hunter22")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "[2026-02-03T04:05:06.000Z] before: hunter22\n" +
		"[2026-02-03T04:05:06.001Z] after: *** and ***, abc\n" +
		"[2026-02-03T04:05:06.002Z] split: ***\n" +
		"[2026-02-03T04:05:06.003Z] unterminated ***\n"
	if got := read(t, path); got != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
}

func TestAddSecretConcurrentWithWrites(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			w.AddSecret(fmt.Sprintf("secret-%03d", i))
		}
	})
	wg.Go(func() {
		for i := range 100 {
			fmt.Fprintf(w, "line %d\n", i)
		}
	})
	wg.Wait()
	w.Printf("secret-042 secret-099")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := read(t, path)
	if strings.Count(got, "\n") != 101 || !strings.HasSuffix(got, "] *** ***\n") {
		t.Errorf("log:\n%s", got)
	}
}

// TestAddSecretOverlappingSecrets: no part of a secret may reach the log,
// even when a shorter secret is a piece of a longer one.
func TestAddSecretOverlappingSecrets(t *testing.T) {
	t.Parallel()
	w, path := create(t)
	w.AddSecret("secret")
	w.AddSecret("supersecret123")
	w.Printf("token supersecret123")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); strings.Contains(got, "super") || strings.Contains(got, "123") {
		t.Errorf("part of a secret reached the log: %q", got)
	}
}

// TestMaskedWriterMasksWholeLines: secrets are masked even when a write
// splits them, partial lines wait for their end or Flush, and nothing is
// timestamped.
func TestMaskedWriterMasksWholeLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := NewMasked(&out)
	m.AddSecret("s3cr3t-token")
	m.AddSecret("abc") // too short to mask
	for _, part := range []string{"token=s3cr", "3t-token abc\nsecond ", "line s3cr3t-token\nlast s3cr3t", "-token"} {
		if _, err := m.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "token=*** abc\nsecond line ***\n"; got != want {
		t.Fatalf("before Flush: %q, want %q", got, want)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "token=*** abc\nsecond line ***\nlast ***"; got != want {
		t.Fatalf("after Flush: %q, want %q", got, want)
	}
}
