package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// Recoverer is implemented by whatever can reach the work an operator
// leaves outside Sirocco's process (a child process group, a cluster
// driver, a pod, a detached SSH job) after the process that started it
// died, as Nomad's task drivers do with RecoverTask and DestroyTask. It
// owns one or more handle kinds; the engine and the executor only look
// the kind of a stored handle up (Registry.Recoverer) and call it.
type Recoverer interface {
	// HandleKinds are the handle kinds this recoverer reads and writes.
	HandleKinds() []string
	// CanResume reports whether handle (of one of its kinds) names work
	// that survives the death of the process that started it and that
	// Resume can track; the rest is stopped.
	CanResume(handle []byte) bool
	// Resume tracks the work of handle to its end, exactly as Execute
	// would after starting it, honouring ctx for cancel and timeout. ctx
	// may arrive already cancelled (the try's run ended while nobody
	// tracked it): the recoverer must then still reach and stop the work,
	// unless the cause is ErrDetach.
	Resume(ctx context.Context, t *Task, handle []byte) (Result, error)
	// Stop reaches the work of handle and kills it: a polite stop first
	// (SIGTERM, a REST kill), a forced one after t.KillGrace, the whole
	// bounded by ctx. It must be idempotent and return nil when the work
	// is already gone; an error means the work may still run. t carries
	// the try's log (never nil: to say what was stopped), its connections
	// (a token) and KillGrace; its Args and Env may be empty.
	Stop(ctx context.Context, t *Task, handle []byte) error
}

// ErrNotResumable is what Resume returns for a handle whose work does not
// outlive the process that started it (a local process group).
var ErrNotResumable = errors.New("this work cannot be tracked after a restart")

// HandleKind reads the envelope every stored handle has: a JSON object
// with "kind" (which recoverer owns it) and "version" (of that kind's
// format), beside the kind's own fields. A handle stored before versions
// existed is version 1 of its kind, and a process handle stored before
// kinds existed (an object with "pid" or "pgid" and no kind) is a
// "process" handle.
func HandleKind(handle []byte) (kind string, version int, err error) {
	var env struct {
		Kind    string          `json:"kind"`
		Version *int            `json:"version"`
		PID     json.RawMessage `json:"pid"`
		PGID    json.RawMessage `json:"pgid"`
	}
	if !bytes.HasPrefix(bytes.TrimLeft(handle, " \t\r\n"), []byte("{")) {
		return "", 0, errors.New("decode handle: not a JSON object")
	}
	if err := json.Unmarshal(handle, &env); err != nil {
		return "", 0, fmt.Errorf("decode handle: %w", err)
	}
	version = 1
	if env.Version != nil {
		version = *env.Version
	}
	if version < 1 {
		return "", 0, fmt.Errorf("decode handle: version %d (want 1 or more)", version)
	}
	switch {
	case env.Kind != "":
		return env.Kind, version, nil
	case env.PID != nil || env.PGID != nil:
		return legacyProcessKind, version, nil
	}
	return "", 0, errors.New("decode handle: it names no kind")
}

// legacyProcessKind is the kind of the process package's handles, the
// only ones ever stored without a kind.
const legacyProcessKind = "process"

// Recoverer returns the recoverer that owns handles of kind: the first,
// by operator name, of the registered factories that declares it (Check
// makes sure factories that share a kind share its recoverer's type).
func (r Registry) Recoverer(kind string) (Recoverer, bool) {
	for _, name := range slices.Sorted(maps.Keys(r)) {
		rec := r[name].Recoverer
		if rec != nil && slices.Contains(rec.HandleKinds(), kind) {
			return rec, true
		}
	}
	return nil, false
}

// RecovererOf returns the recoverer of a stored handle's kind, with the
// kind for messages; an error names what is wrong with the handle or that
// no registered operator owns its kind.
func (r Registry) RecovererOf(handle []byte) (Recoverer, string, error) {
	kind, _, err := HandleKind(handle)
	if err != nil {
		return nil, "", err
	}
	rec, ok := r.Recoverer(kind)
	if !ok {
		return nil, kind, fmt.Errorf("no operator owns handles of kind %q", kind)
	}
	return rec, kind, nil
}

// Check reports the mistakes a registry can hold that would only show in
// a restart: two operators claiming a handle kind with recoverers of
// different types (which would resume or stop it is then arbitrary), and
// a field default whose type does not match its field's kind.
func (r Registry) Check() error {
	var errs []error
	owner := map[string]string{} // kind → operator
	for _, name := range slices.Sorted(maps.Keys(r)) {
		f := r[name]
		for _, fs := range f.Spec.Fields {
			if err := checkDefault(fs); err != nil {
				errs = append(errs, fmt.Errorf("operator %s: %w", name, err))
			}
		}
		if f.Recoverer == nil {
			continue
		}
		for _, kind := range f.Recoverer.HandleKinds() {
			first, seen := owner[kind]
			switch {
			case kind == "":
				errs = append(errs, fmt.Errorf("operator %s: a recoverer declares an empty handle kind", name))
			case !seen:
				owner[kind] = name
			case reflect.TypeOf(r[first].Recoverer) != reflect.TypeOf(f.Recoverer):
				errs = append(errs, fmt.Errorf("handle kind %q is claimed by operators %s and %s with different recoverers", kind, first, name))
			}
		}
	}
	return errors.Join(errs...)
}
