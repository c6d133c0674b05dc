package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Context is the set of names a template can use. Templates cannot change
// it (a render works on its own layer above it), so one Context built by
// NewContext renders all of a task try's fields, from several goroutines
// too, provided Info's callbacks are safe for concurrent use.
type Context map[string]any

// Info is what the engine knows about one task try, from which NewContext
// builds the names Airflow offers templates.
type Info struct {
	DagID, RunID, TaskID, Operator                  string
	LogicalDate, DataIntervalStart, DataIntervalEnd time.Time // UTC
	TryNumber                                       int
	// Map is the instance's map index + 1 (store.TaskKey.Map): templates
	// see Airflow's ti.map_index and map_index, -1 for a task that is not
	// mapped (Map 0).
	Map int
	// Params are the DAG's params defaults merged with the trigger conf.
	Params map[string]any
	// Conf is the DAG run's conf (dag_run.conf).
	Conf map[string]any
	// Variables looks up var.value.KEY. It returns an error wrapping a
	// not-found error when the key does not exist. It is called lazily, on
	// first use of each key in this Context.
	Variables func(key string) (string, error)
	// XComPull backs ti.xcom_pull; it returns a nil value when there is no
	// such XCom.
	XComPull func(taskID, key string) (any, error)
	// HasTask reports whether the DAG has a task with this id (nil: any
	// id is accepted). ti.xcom_pull of a task the DAG lacks is an error,
	// as an undefined name is, while a task that pushed nothing gives
	// None, as in Airflow.
	HasTask func(taskID string) bool
	// TriggeringAssetEvents are the asset events that triggered an
	// asset-triggered run, by URI, oldest first (nil for other runs).
	TriggeringAssetEvents map[string][]AssetEvent
}

// defaultXComKey is the key under which a task's return value is stored.
const defaultXComKey = "return_value"

// NewContext builds the template context for one task try, with Airflow's
// names and meanings:
//
//	ds, ds_nodash, ts, ts_nodash, ts_nodash_with_tz   strings from logical_date
//	logical_date, data_interval_start, data_interval_end
//	                                                  datetimes (see package doc)
//	run_id, task_instance_key_str                     strings
//	dag.dag_id; task.task_id, .operator, .dag_id
//	ti / task_instance: .task_id, .dag_id, .run_id, .try_number, .xcom_pull(...)
//	params, dag_run.conf, .run_id, .dag_id, .logical_date, ...
//	var.value.KEY, var.json.KEY, var.value.get(KEY, default)
//	macros.ds_add(ds, days), macros.ds_format(ds, in_fmt, out_fmt)
//	macros.timedelta(days=, hours=, ...), macros.datetime.utcnow()/now()
//
// Params and Conf are copied, so templates cannot change the caller's maps.
// JSON numbers with an integral value (float64 from encoding/json, or
// json.Number) become int64, so {{ params.n }} renders 5 as Python would,
// not 5.0; the same applies to XCom values and var.json.
func NewContext(info Info) Context {
	logical := newDateTime(info.LogicalDate)
	start := newDateTime(info.DataIntervalStart)
	end := newDateTime(info.DataIntervalEnd)

	ds := logical.t.Format("2006-01-02")
	dsNodash := logical.t.Format("20060102")
	ts := logical.isoformat()

	params := normalizeMap(info.Params)
	conf := normalizeMap(info.Conf)

	dag := &object{
		repr:  "<DAG: " + info.DagID + ">",
		attrs: map[string]any{"dag_id": info.DagID},
	}
	task := &object{
		repr: "<Task(" + info.Operator + "): " + info.TaskID + ">",
		attrs: map[string]any{
			"task_id":  info.TaskID,
			"dag_id":   info.DagID,
			"operator": info.Operator,
		},
	}
	xcom := &xcomPuller{dagID: info.DagID, pull: info.XComPull, hasTask: info.HasTask}
	ti := &object{
		repr: "<TaskInstance: " + info.DagID + "." + info.TaskID + " " + info.RunID + ">",
		attrs: map[string]any{
			"task_id":      info.TaskID,
			"dag_id":       info.DagID,
			"run_id":       info.RunID,
			"try_number":   info.TryNumber,
			"map_index":    info.Map - 1,
			"xcom_pull":    xcom.call,
			"task":         task,
			"logical_date": logical,
		},
	}
	dagRun := &object{
		repr: "<DagRun " + info.DagID + " @ " + ts + ": " + info.RunID + ">",
		attrs: map[string]any{
			"dag_id":              info.DagID,
			"run_id":              info.RunID,
			"conf":                conf,
			"logical_date":        logical,
			"data_interval_start": start,
			"data_interval_end":   end,
		},
	}
	vars := &variables{lookup: info.Variables}

	return Context{
		"ds":                    ds,
		"ds_nodash":             dsNodash,
		"ts":                    ts,
		"ts_nodash":             logical.t.Format("20060102T150405"),
		"ts_nodash_with_tz":     strings.NewReplacer("-", "", ":", "").Replace(ts),
		"logical_date":          logical,
		"data_interval_start":   start,
		"data_interval_end":     end,
		"run_id":                info.RunID,
		"task_instance_key_str": info.DagID + "__" + info.TaskID + "__" + dsNodash,
		"dag":                   dag,
		"task":                  task,
		"ti":                    ti,
		"map_index":             info.Map - 1,
		"task_instance":         ti,
		"params":                params,
		"dag_run":               dagRun,
		"var": &object{
			repr: "<var>",
			attrs: map[string]any{
				"value": &variableValues{vars: vars},
				"json":  &variableValues{vars: vars, json: true},
			},
		},
		"triggering_asset_events": assetEventsContext(info.TriggeringAssetEvents),
		"macros": &object{
			repr: "<macros>",
			attrs: map[string]any{
				"ds_add":    macroDsAdd,
				"ds_format": macroDsFormat,
				"timedelta": macroTimedelta,
				"datetime":  macroDatetime(time.Now),
			},
		},
	}
}

// object exposes fixed attributes to templates, readable as obj.name and
// obj['name'] as in Jinja, and renders as a Python-like repr.
type object struct {
	repr  string
	attrs map[string]any
}

// GetAttribute serves obj.name.
func (o *object) GetAttribute(name string) (*exec.Value, bool) {
	v, ok := o.attrs[name]
	if !ok {
		return exec.AsValue(nil), false
	}
	return exec.ToValue(v), true
}

// GetItem serves obj['name'].
func (o *object) GetItem(key any) (*exec.Value, bool) {
	name, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return o.GetAttribute(name)
}

// String renders {{ obj }}.
func (o *object) String() string { return o.repr }

// variables memoizes Info.Variables for one Context, so a key used in several
// fields is read once and has one value, or one error, throughout the try.
// (gonja also asks twice per failed lookup: as an attribute, then as an
// item.)
type variables struct {
	lookup func(key string) (string, error)
	cache  sync.Map // key -> variableResult
}

type variableResult struct {
	value string
	err   error
}

func (v *variables) get(key string) (string, error) {
	if r, ok := v.cache.Load(key); ok {
		r := r.(variableResult)
		return r.value, r.err
	}
	if v.lookup == nil {
		return "", errors.New("variables are not available here")
	}
	s, err := v.lookup(key)
	v.cache.Store(key, variableResult{value: s, err: err})
	return s, err
}

// variableValues is var.value (strings) or var.json (parsed JSON).
type variableValues struct {
	vars *variables
	json bool
}

func (vv *variableValues) name() string {
	if vv.json {
		return "var.json"
	}
	return "var.value"
}

func (vv *variableValues) load(key string) (any, error) {
	s, err := vv.vars.get(key)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", vv.name(), key, err)
	}
	if !vv.json {
		return s, nil
	}
	v, err := decodeJSON(s)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", vv.name(), key, err)
	}
	return v, nil
}

// GetAttribute serves var.value.KEY. As in Airflow, "get" is the method
// var.value.get(key, default) rather than a variable named get.
func (vv *variableValues) GetAttribute(name string) (*exec.Value, bool) {
	if name == "get" {
		return exec.AsValue(vv.getMethod), true
	}
	return vv.GetItem(name)
}

// GetItem serves var.value['KEY']. A failed lookup is returned as an error
// value, which gonja reports (naming the key) and which the default filter
// and the "is defined" test treat as undefined.
func (vv *variableValues) GetItem(key any) (*exec.Value, bool) {
	name, ok := key.(string)
	if !ok {
		return exec.AsValue(fmt.Errorf("%s[%v]: variable keys are strings", vv.name(), key)), false
	}
	v, err := vv.load(name)
	if err != nil {
		return exec.AsValue(err), false
	}
	return exec.ToValue(v), true
}

// String renders {{ var.value }} without listing, or loading, any variable.
func (vv *variableValues) String() string { return "<" + vv.name() + ">" }

// getMethod is var.value.get(key, default=None). Info.Variables does not let
// us tell a missing key from a failing store, so the default is returned
// when the lookup fails for any reason; without a default, failures are
// errors as with var.value.KEY.
func (vv *variableValues) getMethod(va *exec.VarArgs) (any, error) {
	args, err := bindArgs(vv.name()+".get", va, "key", "default_var")
	if err != nil {
		return nil, err
	}
	key, err := stringArg(vv.name()+".get", "key", args["key"])
	if err != nil {
		return nil, err
	}
	v, err := vv.load(key)
	if err != nil {
		if def, ok := args["default_var"]; ok {
			return def.Interface(), nil
		}
		return nil, err
	}
	return v, nil
}

// xcomPuller is ti.xcom_pull.
type xcomPuller struct {
	dagID   string
	pull    func(taskID, key string) (any, error)
	hasTask func(taskID string) bool
}

// call implements ti.xcom_pull(task_ids, dag_id=None, key='return_value',
// default=None). task_ids is required: Sirocco does not know the upstream
// tasks Airflow infers when it is omitted. A list of task ids returns a list
// with one value per id, nil where absent.
func (x *xcomPuller) call(va *exec.VarArgs) (any, error) {
	const fn = "ti.xcom_pull"
	args, err := bindArgs(fn, va, "task_ids", "dag_id", "key", "default")
	if err != nil {
		return nil, err
	}
	if x.pull == nil {
		return nil, fmt.Errorf("%s: XComs are not available here", fn)
	}
	if d, ok := args["dag_id"]; ok && !d.IsNil() && d.String() != x.dagID {
		return nil, fmt.Errorf("%s: pulling from another DAG (%q) is not supported", fn, d.String())
	}
	key := defaultXComKey
	if k, ok := args["key"]; ok && !k.IsNil() {
		if key, err = stringArg(fn, "key", k); err != nil {
			return nil, err
		}
	}
	var def any
	if d, ok := args["default"]; ok {
		def = d.Interface()
	}
	ids, ok := args["task_ids"]
	if !ok || ids.IsNil() {
		return nil, fmt.Errorf("%s: task_ids is required", fn)
	}
	one := func(taskID string) (any, error) {
		if x.hasTask != nil && !x.hasTask(taskID) {
			return nil, fmt.Errorf("%s(task_ids=%q): DAG %q has no task %q", fn, taskID, x.dagID, taskID)
		}
		v, err := x.pull(taskID, key)
		if err != nil {
			return nil, fmt.Errorf("%s(task_ids=%q, key=%q): %w", fn, taskID, key, err)
		}
		if v == nil {
			return def, nil
		}
		return normalize(v), nil
	}
	switch {
	case ids.IsString():
		return one(ids.String())
	case ids.IsList():
		out := make([]any, 0, ids.Len())
		for i := 0; i < ids.Len(); i++ {
			id, err := stringArg(fn, "task_ids", ids.Index(i))
			if err != nil {
				return nil, err
			}
			v, err := one(id)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s: task_ids must be a string or a list of strings, not %s", fn, ids.String())
	}
}

// bindArgs matches Python-style positional and keyword arguments to the
// parameter names of fn, in order. Parameters not given are absent from the
// result, so callers apply their own defaults.
func bindArgs(fn string, va *exec.VarArgs, names ...string) (map[string]*exec.Value, error) {
	if len(va.Args) > len(names) {
		return nil, fmt.Errorf("%s: takes at most %d arguments, got %d", fn, len(names), len(va.Args))
	}
	out := make(map[string]*exec.Value, len(names))
	for i, a := range va.Args {
		out[names[i]] = a
	}
	for k, v := range va.KwArgs {
		known := false
		for _, n := range names {
			if n == k {
				known = true
				break
			}
		}
		if !known {
			return nil, fmt.Errorf("%s: unexpected keyword argument %q", fn, k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: got multiple values for argument %q", fn, k)
		}
		out[k] = v
	}
	return out, nil
}

// stringArg checks that argument name of fn is a string.
func stringArg(fn, name string, v *exec.Value) (string, error) {
	if v == nil || !v.IsString() {
		return "", fmt.Errorf("%s: %s must be a string, not %s", fn, name, describe(v))
	}
	return v.String(), nil
}

// intArg checks that argument name of fn is an integer; integral floats,
// which JSON-sourced params may be, are accepted.
func intArg(fn, name string, v *exec.Value) (int, error) {
	switch {
	case v != nil && v.IsInteger():
		return v.Integer(), nil
	case v != nil && v.IsFloat() && v.Float() == math.Trunc(v.Float()) && math.Abs(v.Float()) < 1<<53:
		return int(v.Float()), nil
	}
	return 0, fmt.Errorf("%s: %s must be an integer, not %s", fn, name, describe(v))
}

func describe(v *exec.Value) string {
	if v == nil || v.IsNil() {
		return "None"
	}
	if v.IsString() {
		return fmt.Sprintf("%q", v.String())
	}
	return v.String()
}

// decodeJSON parses s keeping integers integers (see normalize).
func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if d.More() {
		return nil, errors.New("parse JSON: unexpected data after the value")
	}
	return normalize(v), nil
}

// normalizeMap copies m through normalize; a nil map becomes an empty one so
// that {{ params.x }} reports x as undefined rather than params as None.
func normalizeMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return normalize(m).(map[string]any)
}

// normalize deep-copies the maps and slices of JSON-like data and turns
// integral numbers into int64, so they render and compute as Python ints.
// Values of other types are kept as they are.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case float64:
		// Beyond 2^53 a float64 no longer holds every integer exactly, and
		// an int64 conversion could overflow: keep it a float.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
		return v
	default:
		return v
	}
}
