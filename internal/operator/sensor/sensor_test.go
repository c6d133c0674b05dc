package sensor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// TestNextInterval: without backoff the wait is poke_interval; with it
// the wait after poke n is in [m, 2m), m = poke_interval × 2^(n-2),
// the same for the same sensor, first poke and n (a restart does not
// change it), bounded by max_wait and what is left of the timeout, and
// never overflows.
func TestNextInterval(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plain := Config{Interval: 10 * time.Second, Timeout: time.Hour}
	if got := NextInterval(plain, "d#t", start, 7, 0); got != 10*time.Second {
		t.Errorf("without backoff: %s, want 10s", got)
	}
	back := Config{Interval: 10 * time.Second, Timeout: 7 * 24 * time.Hour, Backoff: true}
	for _, tt := range []struct {
		pokes    int
		min, max time.Duration
	}{
		{1, 5 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 20 * time.Second},
		{3, 20 * time.Second, 40 * time.Second},
		{4, 40 * time.Second, 80 * time.Second},
		{8, 640 * time.Second, 1280 * time.Second},
	} {
		got := NextInterval(back, "d#t", start, tt.pokes, 0)
		if got < tt.min || got >= tt.max {
			t.Errorf("poke %d: %s, want in [%s, %s)", tt.pokes, got, tt.min, tt.max)
		}
		if again := NextInterval(back, "d#t", start, tt.pokes, 0); again != got {
			t.Errorf("poke %d: %s then %s for the same inputs", tt.pokes, got, again)
		}
	}
	if a, b := NextInterval(back, "d#a", start, 5, 0), NextInterval(back, "d#b", start, 5, 0); a == b {
		t.Errorf("two sensors wait the same %s: no jitter", a)
	}
	capped := back
	capped.MaxWait = 30 * time.Second
	if got := NextInterval(capped, "d#t", start, 10, 0); got != 30*time.Second {
		t.Errorf("max_wait: %s, want 30s", got)
	}
	if got := NextInterval(back, "d#t", start, 10, back.Timeout-3*time.Second); got != 3*time.Second {
		t.Errorf("near the timeout: %s, want the 3s left", got)
	}
	if got := NextInterval(back, "d#t", start, 500, 0); got <= 0 || got > back.Timeout {
		t.Errorf("poke 500: %s, want within the timeout", got)
	}
	// m is whole seconds (Airflow's int()): poke_interval 3s waits in
	// [1s, 2s) after the first poke, not [1.5s, 3s).
	odd := Config{Interval: 3 * time.Second, Timeout: time.Hour, Backoff: true}
	for _, id := range []string{"d#a", "d#b", "d#c", "d#d", "d#e", "d#f", "d#g", "d#h"} {
		if got := NextInterval(odd, id, start, 1, 0); got < time.Second || got >= 2*time.Second {
			t.Errorf("%s, poke_interval 3s, first wait %s, want in [1s, 2s)", id, got)
		}
	}
	short := Config{Interval: 100 * time.Millisecond, Timeout: time.Hour, Backoff: true}
	if got := NextInterval(short, "d#t", start, 1, 0); got < 100*time.Millisecond || got >= 200*time.Millisecond {
		t.Errorf("a short poke_interval: %s, want at least itself (the floor) and below twice it", got)
	}
}

// TestRunPokeMode: the loop pokes until the condition holds, waiting
// inside the try, and fails for good on timeout (skips with soft_fail).
func TestRunPokeMode(t *testing.T) {
	t.Parallel()
	task, log := newTask(t, nil)
	n := 0
	res, err := Run(t.Context(), task, Config{Interval: 10 * time.Millisecond, Timeout: time.Hour},
		func(context.Context, *operator.Task) (bool, error) { n++; return n == 3, nil }, nil)
	if err != nil || res.ReturnValue != nil || n != 3 {
		t.Fatalf("Run = %+v, %v after %d pokes", res, err, n)
	}
	if !strings.Contains(log.String(), "condition met at poke 3") {
		t.Errorf("log:\n%s", log)
	}

	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	never := func(context.Context, *operator.Task) (bool, error) { c.add(400 * time.Millisecond); return false, nil }
	cfg := Config{Interval: time.Millisecond, Timeout: time.Second}
	_, err = Run(t.Context(), task, cfg, never, c.now)
	if !errors.Is(err, operator.ErrNoRetry) || errors.Is(err, operator.ErrSkip) || !strings.Contains(err.Error(), "after 3 pokes") {
		t.Errorf("timeout: %v, want a failure without retry after 3 pokes", err)
	}
	cfg.SoftFail = true
	if _, err = Run(t.Context(), task, cfg, never, c.now); !errors.Is(err, operator.ErrSkip) {
		t.Errorf("timeout with soft_fail: %v, want a skip", err)
	}

	boom := errors.New("boom")
	if _, err := Run(t.Context(), task, Config{Interval: time.Millisecond, Timeout: time.Hour},
		func(context.Context, *operator.Task) (bool, error) { return false, boom }, nil); !errors.Is(err, boom) ||
		errors.Is(err, operator.ErrNoRetry) {
		t.Errorf("a poke's error: %v, want it as it is (retries apply)", err)
	}

	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("stopped")
	cancel(stop)
	if _, err := Run(ctx, task, Config{Interval: time.Hour, Timeout: 2 * time.Hour},
		func(context.Context, *operator.Task) (bool, error) { return false, nil }, nil); !errors.Is(err, stop) {
		t.Errorf("cancelled while waiting: %v, want the cause", err)
	}
}

// TestRunRescheduleMode: a poke that finds the condition unmet returns
// a reschedule at now + poke_interval with the progress; the next poke
// goes on from that progress, and its timeout counts from the first.
func TestRunRescheduleMode(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	first := c.now()
	cfg := Config{Interval: 30 * time.Second, Timeout: time.Minute, Reschedule: true}
	notYet := func(context.Context, *operator.Task) (bool, error) { return false, nil }
	task, _ := newTask(t, nil)
	_, err := Run(t.Context(), task, cfg, notYet, c.now)
	var re *operator.Reschedule
	if !errors.As(err, &re) || !re.At.Equal(first.Add(30*time.Second)) || !re.FirstPoke.Equal(first) || re.Pokes != 1 {
		t.Fatalf("first poke: %v (%+v)", err, re)
	}

	c.add(45 * time.Second)
	task.FirstPokeAt, task.Pokes = re.FirstPoke, re.Pokes
	if _, err = Run(t.Context(), task, cfg, notYet, c.now); !errors.As(err, &re) || !re.FirstPoke.Equal(first) || re.Pokes != 2 {
		t.Fatalf("second poke: %v (%+v)", err, re)
	}

	c.add(30 * time.Second) // 75s after the first poke: past the timeout
	task.Pokes = re.Pokes
	if _, err = Run(t.Context(), task, cfg, notYet, c.now); !errors.Is(err, operator.ErrNoRetry) ||
		!strings.Contains(err.Error(), "after 3 pokes in 1m15s") {
		t.Fatalf("third poke: %v, want a timeout counted from the first poke", err)
	}
	cfg.Interval = 40 * time.Second
	task.FirstPokeAt, task.Pokes = time.Time{}, 0 // a new try: from scratch
	if _, err = Run(t.Context(), task, cfg, notYet, c.now); !errors.As(err, &re) || !re.FirstPoke.Equal(c.now()) || re.Pokes != 1 {
		t.Fatalf("a new try's first poke: %v (%+v)", err, re)
	}
}

// TestReadConfig: defaults are Airflow's; bad values name their field.
func TestReadConfig(t *testing.T) {
	t.Parallel()
	c, err := ReadConfig(BashSpec, map[string]any{"command": "true"})
	if err != nil || c.Interval != time.Minute || c.Timeout != 7*24*time.Hour || c.Reschedule || c.SoftFail || c.Backoff {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = ReadConfig(BashSpec, map[string]any{"mode": "reschedule", "poke_interval": "5s", "timeout": 30, "exponential_backoff": true, "max_wait": "1m"})
	if err != nil || !c.Reschedule || c.Interval != 5*time.Second || c.Timeout != 30*time.Second || !c.Backoff || c.MaxWait != time.Minute {
		t.Fatalf("set: %+v, %v", c, err)
	}
	_, err = ReadConfig(BashSpec, map[string]any{"mode": "deferrable", "poke_interval": "0s", "timeout": "-1s"})
	for _, want := range []string{`field mode: "deferrable", want poke or reschedule`, "field poke_interval: 0s, want more than 0", "field timeout: -1s is negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one saying %q", err, want)
		}
	}
}

// TestPokeModeNotesOneHandlePerTry: a poke-mode bash_sensor runs a real
// process at each poke, but the try's log gets one handle line, not one
// per poke.
func TestPokeModeNotesOneHandlePerTry(t *testing.T) {
	t.Parallel()
	task, _ := newTask(t, map[string]any{"command": `n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ "$n" -ge 2 ]`,
		"poke_interval": "10ms"})
	var notes [][]byte
	task.NoteHandle = func(h []byte) { notes = append(notes, h) }
	s := Sensor{Spec: BashSpec, Poke: bashPoke(BashSpec)}
	if _, err := s.Execute(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(task.DagDir, "count"))
	if err != nil || strings.TrimSpace(string(b)) != "3" {
		t.Fatalf("pokes: %q, %v; want 3", b, err)
	}
	if len(notes) != 1 {
		t.Errorf("%d handle notes for 3 pokes, want 1", len(notes))
	}
}
