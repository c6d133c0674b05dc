package airflowimport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// Problem is something of an Airflow DAG the importer did not convert (or
// converted with a caveat), at the FILE:LINE of the Python call that made it.
type Problem struct {
	Loc  string
	Task string // "" for the DAG itself
	What string
	Hint string
}

func (p Problem) String() string {
	s := p.Loc + ": "
	if p.Task != "" {
		s += "task " + p.Task + ": "
	}
	s += p.What
	if p.Hint != "" {
		s += "; " + p.Hint
	}
	return s
}

// Converted is one DAG as Sirocco YAML, with its functions module (nil
// when it has none) and the problems met.
type Converted struct {
	DagID           string
	YAML            []byte
	CallablesModule string
	Callables       []byte
	Problems        []Problem
}

type converter struct {
	specs    map[string]dag.OperatorSpec
	d        DAGIR
	source   string
	problems []Problem
	mod      *callables
	opArgs   map[string]any // DAG default_args that are operator fields
	cbArgs   map[string]any // DAG default_args' callback and e-mail arguments

	ids       map[string]bool    // every task and group full id
	groupByID map[string]GroupIR // groups by full id

	tplCtx template.Context // a run's context with made-up values, to try templates
}

// Convert turns one recorded DAG into Sirocco YAML. specs are the
// operators Sirocco has (their fields decide which arguments are kept).
func Convert(d DAGIR, source string, specs map[string]dag.OperatorSpec) (Converted, error) {
	return convertAs(d, source, specs, pyIdent(d.DagID)+"_callables")
}

// convertAs is Convert with the name of the callables module.
func convertAs(d DAGIR, source string, specs map[string]dag.OperatorSpec, module string) (Converted, error) {
	c := &converter{specs: specs, d: d, source: source, mod: newCallables(module, source), opArgs: map[string]any{}}
	root := c.dagHeader()
	tasks, groups := c.body()
	root.put("tasks", tasks)
	if groups != nil {
		root.put("groups", groups)
	}
	for _, p := range c.mod.problems {
		c.problems = append(c.problems, Problem{Loc: d.Loc, What: p})
	}
	out := Converted{DagID: d.DagID, CallablesModule: c.mod.module, Callables: c.mod.render(), Problems: c.problems}
	var err error
	out.YAML, err = encodeYAML(c.head(), root)
	return out, err
}

// add records a problem once (an inherited value converted again at
// each level that changes it is reported once).
func (c *converter) add(loc, task, what, hint string) {
	p := Problem{Loc: loc, Task: task, What: redactText(what), Hint: hint}
	if !slices.Contains(c.problems, p) {
		c.problems = append(c.problems, p)
	}
}

// head is the comment block at the top of the YAML.
func (c *converter) head() string {
	lines := []string{fmt.Sprintf("Converted from %s (%s) by `sirocco dags import-airflow`.", c.source, c.d.Loc)}
	if len(c.problems) == 0 {
		lines = append(lines, "Everything was converted.")
	} else {
		lines = append(lines, fmt.Sprintf("NOT CONVERTED or changed (%d), with what to do:", len(c.problems)))
		for _, p := range c.problems {
			lines = append(lines, "  - "+strings.ReplaceAll(p.String(), "\n", " "))
		}
	}
	return strings.Join(lines, "\n")
}

// argProblem explains an argument no Sirocco key takes.
func (c *converter) argProblem(loc, task, owner, name string, v any) {
	if connection.IsSensitive(name) && !isDefault(v) {
		v = connection.Mask // a password=, token= ... is not shown in the report
	}
	if r, ok := kwargRules[name]; ok {
		if isDefault(v) {
			return // depends_on_past=False, email=None ...: Airflow's defaults change nothing
		}
		if r.Feature != "" {
			c.add(loc, task, fmt.Sprintf("%s=%s: not supported by this version: %s", name, truncate(describe(v), 60), r.Feature), r.Rewrite)
			return
		}
		c.add(loc, task, fmt.Sprintf("%s=%s is not kept", name, truncate(describe(v), 60)), r.Rewrite)
		return
	}
	c.add(loc, task, fmt.Sprintf("unknown argument %s=%s of %s is not converted", name, truncate(describe(v), 60), owner),
		"set the equivalent Sirocco field by hand, if there is one (see README, Operators)")
}

// ---------------------------------------------------------------- DAG

var dagHandled = []string{"description", "schedule", "schedule_interval", "timetable", "start_date", "end_date",
	"catchup", "max_active_runs", "max_active_tasks", "concurrency", "dagrun_timeout", "tags", "params", "default_args",
	"on_success_callback", "on_failure_callback", "deadline"}

// dagCallbacks converts the DAG's own callbacks (called once when a run
// ends) and its deadline alert.
func (c *converter) dagCallbacks(m omap) {
	for _, k := range []string{"on_success_callback", "on_failure_callback"} {
		switch list := c.notifiers(c.d.Loc, "", k, c.d.Kwargs[k]); len(list) {
		case 0:
		case 1:
			m.put(k, list[0])
		default:
			m.put(k, list)
		}
	}
	if v, ok := c.d.Kwargs["deadline"]; ok && v != nil {
		if d := c.deadline(v); d != nil {
			m.put("deadline", d)
		}
	}
}

func (c *converter) dagHeader() omap {
	kw := c.d.Kwargs
	m := newMap()
	m.put("dag_id", c.d.DagID)
	if s, ok := kw["description"].(string); ok && s != "" {
		m.put("description", s)
	}
	c.schedule(m)
	defaults, _ := kw["default_args"].(map[string]any)
	c.dates(m, defaults)
	for _, k := range []string{"catchup", "max_active_runs", "max_active_tasks", "concurrency"} {
		if v, ok := kw[k]; ok {
			key := k
			if k == "concurrency" {
				key = "max_active_tasks"
			}
			m.put(key, c.plainOr(c.d.Loc, "", k, v))
		}
	}
	c.catchupDefault()
	if v, ok := kw["dagrun_timeout"]; ok && v != nil {
		if s, err := durationValue(v); err == nil {
			m.put("dagrun_timeout", s)
		} else {
			c.add(c.d.Loc, "", "dagrun_timeout: "+err.Error(), "")
		}
	}
	if tags, ok := kw["tags"].([]any); ok && len(tags) > 0 {
		m.put("tags", c.plainOr(c.d.Loc, "", "tags", tags))
	}
	if p, ok := kw["params"].(map[string]any); ok && len(p) > 0 {
		m.put("params", c.params(p))
	}
	c.cbArgs = ownCallbackArgs(defaults)
	if da := c.defaultArgs(defaults, c.d.Loc, "DAG", c.opArgs, nil); da.len() > 0 {
		m.put("default_args", da)
	}
	c.dagCallbacks(m)
	for _, k := range sortedKeys(kw) {
		if !slices.Contains(dagHandled, k) {
			c.argProblem(c.d.Loc, "", "DAG", k, kw[k])
		}
	}
	return m
}

// catchupDefault reports a scheduled DAG that leaves catchup to its
// default: Airflow 2 catches up (catchup_by_default), Airflow 3 and
// Sirocco do not; a file importing airflow.sdk is taken as Airflow 3's.
func (c *converter) catchupDefault() {
	kw := c.d.Kwargs
	if _, set := kw["catchup"]; set || c.d.Airflow3 {
		return
	}
	timed := false
	for _, k := range []string{"schedule", "schedule_interval", "timetable"} {
		v, ok := kw[k]
		s, isStr := v.(string)
		timed = timed || ok && (isStr && s != "@once" && s != "@continuous" || kind(v) == "timedelta" ||
			kind(v) == "object" && strings.HasPrefix(str(field(v, "class")), "Cron"))
	}
	if !timed {
		return // no schedule, or assets: there is nothing to catch up
	}
	c.add(c.d.Loc, "", "catchup is not given: written without it, so Sirocco creates only the latest missed run (Airflow 3's default)",
		"Airflow 2 creates every run missed since start_date (catchup_by_default); set catchup: true to keep that")
}

func (c *converter) schedule(m omap) {
	kw := c.d.Kwargs
	v, ok := kw["schedule"]
	if !ok {
		v, ok = kw["schedule_interval"]
	}
	if !ok {
		v, ok = kw["timetable"]
	}
	if !ok {
		m.put("schedule", "none")
		c.add(c.d.Loc, "", "the DAG gives no schedule: written as `schedule: none`",
			"Airflow 2 runs such a DAG daily (Airflow 3 never); set schedule: \"@daily\" to keep Airflow 2's behaviour")
		return
	}
	switch {
	case v == nil:
		m.put("schedule", "none")
	case kind(v) == "timedelta":
		d, _ := durationValue(v)
		m.put("schedule", "every "+d)
	case kind(v) == "object" && strings.HasPrefix(str(field(v, "class")), "Cron"):
		args, _ := field(v, "args").([]any)
		cron, _ := field(field(v, "kwargs"), "cron").(string)
		if len(args) > 0 {
			cron, _ = args[0].(string)
		}
		m.put("schedule", cron)
	default:
		if s, isStr := v.(string); isStr && s != "@continuous" {
			m.put("schedule", s)
			return
		}
		if isAssetSchedule(v) {
			if a := c.assetSchedule(v); a != nil {
				m.put("schedule", a)
				return
			}
		}
		m.put("schedule", "none")
		feature := "this schedule (" + describe(v) + ")"
		if isAssetSchedule(v) {
			feature = "an asset schedule with no asset left"
		}
		c.add(c.d.Loc, "", "schedule: not supported by this version: "+feature+"; written as `schedule: none`",
			"use a cron, a preset or \"every <duration>\", or trigger the DAG with `sirocco dags trigger`")
	}
}

func (c *converter) dates(m omap, defaults map[string]any) {
	var zone string
	for _, k := range []string{"start_date", "end_date"} {
		v, ok := c.d.Kwargs[k]
		if !ok || v == nil {
			v, ok = defaults[k]
		}
		if !ok || v == nil {
			continue
		}
		date, z, err := dateValue(v)
		if err != nil {
			c.add(c.d.Loc, "", k+": "+err.Error(), "write the date as YYYY-MM-DD")
			continue
		}
		if n := field(v, "days_ago"); n != nil {
			c.add(c.d.Loc, "", fmt.Sprintf("%s=days_ago(%v) is fixed to %s", k, n, date),
				"Airflow recomputes days_ago at each parse; Sirocco's start_date is a date")
		}
		if k == "start_date" {
			zone = z
			if zone != "" {
				m.put("timezone", zone)
			}
		}
		m.put(k, date)
	}
}

// params converts Airflow params: a bare value stays a default, a Param
// becomes {type, default, enum, description}.
func (c *converter) params(p map[string]any) omap {
	out := newMap()
	for _, name := range sortedKeys(p) {
		v := p[name]
		if kind(v) != "param" {
			out.put(name, c.plainOr(c.d.Loc, "", "params."+name, v))
			continue
		}
		pm := newMap()
		schema, _ := field(v, "schema").(map[string]any)
		if t := paramType(schema["type"]); t != "" {
			pm.put("type", t)
		}
		if d := field(v, "default"); d != nil {
			pm.put("default", c.plainOr(c.d.Loc, "", "params."+name, d))
		}
		if e, ok := schema["enum"].([]any); ok {
			pm.put("enum", e)
		}
		if d, ok := field(v, "description").(string); ok && d != "" {
			pm.put("description", d)
		}
		for _, k := range sortedKeys(schema) {
			if k != "type" && k != "enum" {
				c.add(c.d.Loc, "", fmt.Sprintf("params.%s: the schema keyword %s is not kept", name, k),
					"Sirocco checks a param's type and enum only")
			}
		}
		out.put(name, pm)
	}
	return out
}

// paramDefaults are the DAG's params with their defaults, as a run
// without conf sees them.
func (c *converter) paramDefaults() map[string]any {
	p, _ := c.d.Kwargs["params"].(map[string]any)
	out := make(map[string]any, len(p))
	for k, v := range p {
		if kind(v) == "param" {
			v = field(v, "default")
		}
		if pv, err := plain(v); err == nil {
			out[k] = pv
		}
	}
	return out
}

func paramType(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if s, _ := e.(string); s != "" && s != "null" {
				return s
			}
		}
	}
	return ""
}

// defaultArgs keeps the scheduling keys of default_args; the operator
// fields go to opArgs, applied to each task that has the field (as Airflow
// applies default_args only to the arguments an operator takes).
func (c *converter) defaultArgs(da map[string]any, loc, owner string, opArgs, inheritedCB map[string]any) omap {
	out := newMap()
	for _, k := range commonKeys {
		if v, ok := da[k]; ok {
			out.put(k, c.commonValue(loc, "", k, v))
		}
	}
	cb := c.callbacks(loc, "", inheritedCB, ownCallbackArgs(da))
	out.node.Content = append(out.node.Content, cb.node.Content...)
	for _, k := range sortedKeys(da) {
		switch {
		case slices.Contains(commonKeys, k), k == "start_date" && owner == "DAG", k == "end_date" && owner == "DAG", isCallbackArg(k):
		case k == "sla":
			c.slaProblem(loc, "", da[k])
		case c.anyOperatorField(k), k == "max_active_tis_per_dag": // a task's key: written on each task
			opArgs[k] = da[k]
		default:
			c.argProblem(loc, "", owner+" default_args", k, da[k])
		}
	}
	return out
}

func (c *converter) anyOperatorField(name string) bool {
	if name == "bash_command" || name == "python_callable" || name == "op_args" || name == "op_kwargs" {
		return true
	}
	for _, s := range c.specs {
		if slices.ContainsFunc(s.Fields, func(f dag.FieldSpec) bool { return f.Name == name }) {
			return true
		}
	}
	return false
}

// commonValue converts a scheduling key's value.
func (c *converter) commonValue(loc, task, k string, v any) any {
	if durationKeys[k] {
		s, err := durationValue(v)
		if err != nil {
			c.add(loc, task, k+": "+err.Error(), "")
			return nil
		}
		return s
	}
	if k == "trigger_rule" {
		s := str(v)
		if s2, ok := triggerRules[s]; ok {
			return s2
		}
		if s == "all_done_setup_success" {
			c.add(loc, task, "trigger_rule all_done_setup_success: setup and teardown tasks are not supported; written as all_done", "")
			return "all_done"
		}
		return s
	}
	return c.plainOr(loc, task, k, v)
}

// plainOr converts a value to YAML data, reporting it (and returning nil)
// when it has none.
func (c *converter) plainOr(loc, task, name string, v any) any {
	p, err := plain(v)
	if err != nil {
		c.add(loc, task, fmt.Sprintf("%s: %s", name, err), fieldHints[name])
		return nil
	}
	return p
}

// fieldHints suggest what to write for a value with no YAML form.
var fieldHints = map[string]string{
	"response_check":    "use Sirocco's response_check: {status: [...], json_path: ..., equals: ..., regex: ...}",
	"response_filter":   "use a JSONPath string (response_filter: $.items[0])",
	"ssh_hook":          "use ssh_conn_id",
	"pod_template_file": "copy the pod's fields (image, cmds, resources ...) into the task",
}

// isDefault reports a false, null or empty value: what Airflow's
// BaseOperator arguments default to.
func isDefault(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
