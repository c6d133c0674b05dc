package python

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
)

// shim is the Python program that imports the module, calls the function
// and writes its outcome to the result file (shim.py says how).
//
//go:embed shim.py
var shim []byte

// maxResult bounds a function's result file: an XCom lives in the
// database and in every API answer that lists it.
const maxResult = 1 << 20

// call is what the shim reads from its private call file.
type call struct {
	Module        string         `json:"module"`
	Function      string         `json:"function"`
	DagDir        string         `json:"dag_dir"`
	OpArgs        []any          `json:"op_args"`
	OpKwargs      map[string]any `json:"op_kwargs"`
	TemplatesDict map[string]any `json:"templates_dict"`
	Context       map[string]any `json:"context"`
	// MultipleOutputs asks the shim to refuse a return value that is not
	// a dict with string keys (None aside), as Airflow does.
	MultipleOutputs bool   `json:"multiple_outputs"`
	Result          string `json:"result"`
}

// result is what the shim writes: kind "str" (text is the string),
// "json" (text is the value's JSON), "none", or "error" (text says what).
type result struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// runCallable calls the function through the shim in a private folder:
// the arguments travel in a 0600 file the shim removes once read, never
// on the command line or in the environment, and the outcome comes back
// in another file, apart from what the function prints. The folder goes
// when the call ends, or, if Sirocco is killed, at its next start (Sweep).
func runCallable(ctx context.Context, t *operator.Task, args operator.Fields, spec string) (operator.Result, error) {
	c, err := newCall(t, args, spec)
	if err != nil {
		return operator.Result{}, err
	}
	dir, err := privateDir()
	if err != nil {
		return operator.Result{}, fmt.Errorf("python callable %s: private folder: %w", spec, err)
	}
	defer os.RemoveAll(dir)
	shimPath, callPath := filepath.Join(dir, "sirocco_call.py"), filepath.Join(dir, "call.json")
	c.Result = filepath.Join(dir, "result.json")
	if err := writePrivate(shimPath, shim); err != nil {
		return operator.Result{}, fmt.Errorf("python callable %s: %w", spec, err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return operator.Result{}, fmt.Errorf("python callable %s: encode arguments: %w", spec, err)
	}
	if err := writePrivate(callPath, data); err != nil {
		return operator.Result{}, fmt.Errorf("python callable %s: %w", spec, err)
	}
	argv := []string{interpreter(t, args), "-u", shimPath, callPath}
	runErr := process.Run(ctx, procSpec(t, args, argv, nil))
	res, readErr := readResult(c.Result)
	switch {
	case runErr != nil && readErr == nil && res.Kind == "error":
		return operator.Result{}, fmt.Errorf("python callable %s: %s (%w)", spec, shorten(res.Text), runErr)
	case runErr != nil:
		return operator.Result{}, runErr
	case readErr != nil:
		return operator.Result{}, fmt.Errorf("python callable %s: %w", spec, readErr)
	}
	return outcome(t, args, spec, res)
}

// newCall gathers the call's arguments and the context from the task.
func newCall(t *operator.Task, args operator.Fields, spec string) (*call, error) {
	fn, err := ParseCallable(spec)
	if err != nil {
		return nil, fmt.Errorf("python callable: %w", err)
	}
	raw := args.Args()
	c := &call{Module: fn.Module, Function: fn.Function, DagDir: t.DagDir, Context: taskContext(t),
		MultipleOutputs: args.Bool("multiple_outputs") && args.Bool("do_xcom_push")}
	if v, ok := raw["op_args"]; ok && v != nil {
		if c.OpArgs, ok = v.([]any); !ok {
			return nil, fmt.Errorf("python callable %s: op_args: expected a list, got %s", spec, kindOf(v))
		}
	}
	for name, dst := range map[string]*map[string]any{"op_kwargs": &c.OpKwargs, "templates_dict": &c.TemplatesDict} {
		if v, ok := raw[name]; ok && v != nil {
			if *dst, ok = v.(map[string]any); !ok {
				return nil, fmt.Errorf("python callable %s: %s: expected a mapping, got %s", spec, name, kindOf(v))
			}
		}
	}
	if c.DagDir == "" {
		c.DagDir, _ = os.Getwd()
	}
	return c, nil
}

// taskContext is the part of Airflow's context a function may take by
// name: dag_id, task_id, run_id, try_number, params, dag_run (its conf,
// ids and dates), data_interval_start and data_interval_end, and from
// the logical date ds, ds_nodash, ts, ts_nodash, ts_nodash_with_tz,
// task_instance_key_str and logical_date. The shim turns the dates
// (ISO text here) into timezone-aware datetimes and dag_run into an
// object.
func taskContext(t *operator.Task) map[string]any {
	params, conf := t.Params, t.Conf
	if params == nil {
		params = map[string]any{}
	}
	if conf == nil {
		conf = map[string]any{}
	}
	ctx := map[string]any{"dag_id": t.DagID, "task_id": t.TaskID, "run_id": t.RunID, "try_number": t.TryNumber, "params": params}
	dagRun := map[string]any{"dag_id": t.DagID, "run_id": t.RunID, "conf": conf}
	for name, at := range map[string]time.Time{"data_interval_start": t.DataIntervalStart, "data_interval_end": t.DataIntervalEnd} {
		if !at.IsZero() {
			ctx[name], dagRun[name] = isoformat(at), isoformat(at)
		}
	}
	ctx["dag_run"] = dagRun
	at, err := time.Parse(time.RFC3339Nano, t.LogicalDate)
	if err != nil {
		return ctx
	}
	at = at.UTC()
	ts := isoformat(at)
	ctx["ds"], ctx["ds_nodash"] = at.Format("2006-01-02"), at.Format("20060102")
	ctx["ts"], ctx["ts_nodash"] = ts, at.Format("20060102T150405")
	ctx["ts_nodash_with_tz"] = strings.NewReplacer("-", "", ":", "").Replace(ts)
	ctx["task_instance_key_str"] = t.DagID + "__" + t.TaskID + "__" + at.Format("20060102")
	ctx["logical_date"], dagRun["logical_date"] = ts, ts
	return ctx
}

// isoformat is Python's datetime.isoformat of a UTC time: microseconds
// only when there are some, and six digits then (Python 3.8 reads no
// other number).
func isoformat(at time.Time) string {
	at = at.UTC()
	if at.Nanosecond()/1000 != 0 {
		return at.Format("2006-01-02T15:04:05.000000-07:00")
	}
	return at.Format("2006-01-02T15:04:05-07:00")
}

// writePrivate creates a file only this user can read.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// readResult reads the shim's result file.
func readResult(path string) (result, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return result{}, errors.New("the process ended without a result (did the function call sys.exit or os._exit?)")
	}
	if err != nil {
		return result{}, fmt.Errorf("read result: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResult+1))
	if err != nil {
		return result{}, fmt.Errorf("read result: %w", err)
	}
	if len(data) > maxResult {
		return result{}, fmt.Errorf("the return value is larger than %d KiB, too large for an XCom (write big data to a file and return its path)", maxResult>>10)
	}
	var r result
	if err := json.Unmarshal(data, &r); err != nil {
		return result{}, fmt.Errorf("read result: %w", err)
	}
	return r, nil
}

// outcome turns a successful call's result into the try's result: a
// returned string is the XCom as it is, another value the JSON value
// (a dict stays a dict for xcom_pull), None no XCom (as Airflow pushes
// nothing for None); with multiple_outputs each item of the dict is
// also an XCom of its own.
func outcome(t *operator.Task, args operator.Fields, spec string, r result) (operator.Result, error) {
	var shown string
	switch r.Kind {
	case "none":
		shown = "None"
	case "str":
		shown = strconv.Quote(r.Text)
	case "json":
		shown = r.Text
	default:
		return operator.Result{}, fmt.Errorf("python callable %s: unexpected result %q", spec, r.Kind)
	}
	if args.Bool("show_return_value_in_logs") {
		fmt.Fprintf(t.Log, "Done. Returned value was: %s\n", shown)
	} else {
		fmt.Fprintf(t.Log, "Done. Returned value not shown\n")
	}
	var res operator.Result
	if r.Kind == "none" || !args.Bool("do_xcom_push") {
		return res, nil
	}
	if r.Kind == "str" {
		res.ReturnValue = &r.Text
		return res, nil
	}
	if !json.Valid([]byte(r.Text)) {
		return operator.Result{}, fmt.Errorf("python callable %s: the shim's result is not JSON: %.80q", spec, r.Text)
	}
	res.ReturnJSON = []byte(r.Text)
	if args.Bool("multiple_outputs") {
		items, err := outputs(r.Text)
		if err != nil {
			return operator.Result{}, fmt.Errorf("python callable %s: multiple_outputs: %w", spec, err)
		}
		res.XComs = items
	}
	return res, nil
}

// maxXComKey bounds a multiple_outputs key, as Airflow's XCom key column.
const maxXComKey = 512

// outputs splits a returned dict's JSON into one XCom per item. The shim
// refused anything but a dict with string keys; a key must also be one
// the store and the API can hold.
func outputs(text string) (map[string][]byte, error) {
	var items map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil || items == nil {
		return nil, fmt.Errorf("the return value is not a dict: %.80s", text)
	}
	out := make(map[string][]byte, len(items))
	for key, v := range items {
		switch {
		case key == "":
			return nil, errors.New("the returned dict has an empty key, which cannot name an XCom")
		case len(key) > maxXComKey:
			return nil, fmt.Errorf("the returned dict's key %.40q... is longer than %d bytes", key, maxXComKey)
		case strings.ContainsRune(key, 0):
			return nil, fmt.Errorf("the returned dict's key %q holds a NUL character", key)
		}
		out[key] = v
	}
	return out, nil
}

// maxErrorText bounds the shim's message in the try's error (an exception
// may carry a whole document; its traceback in the log has all of it).
const maxErrorText = 2000

// shorten cuts s to maxErrorText bytes at a rune boundary.
func shorten(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (cut)"
}
