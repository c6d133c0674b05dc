package sensor

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Modes of a sensor.
const (
	ModePoke       = "poke"
	ModeReschedule = "reschedule"
)

// Defaults, as Airflow's BaseSensorOperator.
const (
	DefaultPokeInterval = 60 * time.Second
	DefaultTimeout      = 7 * 24 * time.Hour
)

// BaseFields are the fields every sensor has (Airflow's BaseSensorOperator).
var BaseFields = []dag.FieldSpec{
	{Name: "poke_interval", Kind: dag.FieldDuration, Default: DefaultPokeInterval, Check: positive("poke_interval"),
		Description: "wait between two pokes"},
	{Name: "timeout", Kind: dag.FieldDuration, Default: DefaultTimeout, Check: nonNegative("timeout"),
		Description: "the sensor fails (or is skipped with soft_fail) when its condition is still unmet this long after the try's first poke, reschedules included; no retry follows"},
	{Name: "mode", Kind: dag.FieldString, Default: ModePoke, Check: checkMode,
		Description: "poke: wait between pokes inside the try, holding its slot; reschedule: end the try between pokes (up_for_reschedule), freeing the slot"},
	{Name: "soft_fail", Kind: dag.FieldBool, Default: false, Description: "a timeout marks the task skipped instead of failed"},
	{Name: "exponential_backoff", Kind: dag.FieldBool, Default: false,
		Description: "grow the wait between pokes exponentially (poke_interval × 2^(n-2), with jitter), as Airflow"},
	{Name: "max_wait", Kind: dag.FieldDuration, Check: nonNegative("max_wait"),
		Description: "upper bound of the wait between pokes with exponential_backoff"},
}

// Config is a sensor's shared fields, read and checked.
type Config struct {
	Interval, Timeout, MaxWait time.Duration
	Reschedule, SoftFail       bool
	Backoff                    bool
}

// ReadConfig reads the shared fields of a sensor's task through spec
// (errors name the field: the loader checks kinds, templates are
// rendered later).
func ReadConfig(spec dag.OperatorSpec, args map[string]any) (Config, error) {
	f := operator.FieldsOf(spec, args)
	c := Config{Interval: f.Duration("poke_interval"), Timeout: f.Duration("timeout"), MaxWait: f.Duration("max_wait"),
		SoftFail: f.Bool("soft_fail"), Backoff: f.Bool("exponential_backoff")}
	mode := f.String("mode")
	var errs []error
	if err := checkMode(mode); err != nil {
		errs = append(errs, fmt.Errorf("field mode: %w", err))
	}
	c.Reschedule = mode == ModeReschedule
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("field poke_interval: %s, want more than 0", c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("field timeout: %s is negative", c.Timeout))
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("field max_wait: %s is negative", c.MaxWait))
	}
	return c, errors.Join(errs...)
}

// PokeFunc checks a sensor's condition once: true when it holds. An
// error fails the try (retries apply); operator.ErrNoRetry fails it for
// good, operator.ErrSkip skips it.
type PokeFunc func(ctx context.Context, t *operator.Task) (bool, error)

// Clock is the time the loop reads; nil means time.Now.
type Clock func() time.Time

// Run is the shared loop of every sensor (Airflow's
// BaseSensorOperator.execute): poke until the condition holds, the
// timeout passes (counted from the try's first poke, across
// reschedules), or ctx ends. In reschedule mode a poke that finds the
// condition unmet returns *operator.Reschedule instead of waiting.
func Run(ctx context.Context, t *operator.Task, c Config, poke PokeFunc, now Clock) (operator.Result, error) {
	if now == nil {
		now = time.Now
	}
	started, pokes := now(), 0
	if c.Reschedule && !t.FirstPokeAt.IsZero() {
		started, pokes = t.FirstPokeAt, t.Pokes
	}
	t = noteOnce(t)
	for {
		pokes++
		ok, err := poke(ctx, t)
		if err != nil {
			return operator.Result{}, err
		}
		if ok {
			fmt.Fprintf(t.Log, "sensor: condition met at poke %d\n", pokes)
			return operator.Result{}, nil
		}
		elapsed := now().Sub(started)
		if elapsed > c.Timeout {
			return operator.Result{}, timedOut(c, elapsed, pokes)
		}
		wait := NextInterval(c, t.DagID+"#"+t.TaskID, started, pokes, elapsed)
		if c.Reschedule {
			return operator.Result{}, &operator.Reschedule{At: now().Add(wait), FirstPoke: started, Pokes: pokes}
		}
		fmt.Fprintf(t.Log, "sensor: not yet (poke %d); next poke in %s\n", pokes, wait)
		if err := sleep(ctx, wait); err != nil {
			return operator.Result{}, err
		}
	}
}

// noteOnce returns t whose NoteHandle writes only the first handle: a
// poke-mode sensor that runs a process at each poke (bash_sensor) notes
// one handle line per try in its log, not one per poke. Recovery finds
// the later pokes' processes by their TryID (process.KillTagged) and by
// the handle saved to the row.
func noteOnce(t *operator.Task) *operator.Task {
	if t.NoteHandle == nil {
		return t
	}
	c := *t
	var once sync.Once
	note := t.NoteHandle
	c.NoteHandle = func(h []byte) { once.Do(func() { note(h) }) }
	return &c
}

// timedOut is the end of a sensor whose timeout passed: skipped with
// soft_fail, else failed without a retry (Airflow's AirflowSensorTimeout).
func timedOut(c Config, elapsed time.Duration, pokes int) error {
	msg := fmt.Sprintf("sensor timed out: condition unmet after %d pokes in %s (timeout %s)",
		pokes, elapsed.Round(time.Millisecond), c.Timeout)
	if c.SoftFail {
		return fmt.Errorf("%w: %s (soft_fail)", operator.ErrSkip, msg)
	}
	return fmt.Errorf("%s: %w", msg, operator.ErrNoRetry)
}

// sleep waits d or until ctx ends, whose cause it returns.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// NextInterval is the wait after poke number pokes (1 for the first),
// Airflow's _get_next_poke_interval: poke_interval, or with
// exponential_backoff a wait in [m, 2m) where m = poke_interval ×
// 2^(pokes-2) in whole seconds (at least a second, or poke_interval if
// shorter), so the first wait is about half poke_interval; the point
// in that range a hash of the sensor, its first poke and pokes (the same
// after a restart), bounded by what is left of the timeout and by
// max_wait.
func NextInterval(c Config, id string, started time.Time, pokes int, elapsed time.Duration) time.Duration {
	if !c.Backoff {
		return c.Interval
	}
	floor := min(time.Second, c.Interval)
	exp := math.Ldexp(float64(c.Interval), pokes-2)
	m := time.Duration(math.MaxInt64 / 2)
	if exp < float64(m) {
		m = time.Duration(exp)
	}
	if m >= time.Second {
		m = m.Truncate(time.Second) // Airflow's int(): whole seconds
	}
	m = max(m, floor)
	sum := sha1.Sum(fmt.Appendf(nil, "%s#%s#%d", id, started.UTC().Format(time.RFC3339Nano), pokes))
	jitter := time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(m))
	d := m + jitter
	d = min(d, max(c.Timeout-elapsed, 0))
	if c.MaxWait > 0 {
		d = min(d, c.MaxWait)
	}
	return max(d, floor)
}

// checkMode vets a mode as the loader reads it; a template is left to
// ReadConfig.
func checkMode(v any) error {
	s, _ := v.(string)
	if slices.Contains([]string{ModePoke, ModeReschedule}, s) {
		return nil
	}
	return fmt.Errorf("%q, want poke or reschedule", fmt.Sprint(v))
}

// positive vets a duration field that must be more than 0.
func positive(name string) func(any) error {
	return func(v any) error {
		if d := operator.Args(map[string]any{"v": v}).Duration("v", 1); d <= 0 {
			return fmt.Errorf("%s must be more than 0, got %s", name, d)
		}
		return nil
	}
}

// nonNegative vets a duration field that must not be negative.
func nonNegative(name string) func(any) error {
	return func(v any) error {
		if d := operator.Args(map[string]any{"v": v}).Duration("v", 0); d < 0 {
			return fmt.Errorf("%s must not be negative, got %s", name, d)
		}
		return nil
	}
}
