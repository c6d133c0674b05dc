package airflowimport

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// callables builds the <dag_id>_callables.py module: the DAG's Python
// functions without their Airflow decorators, the imports and constants
// they read, and small adapters that need nothing of Airflow.
type callables struct {
	module   string
	source   string // the DAG file, for the header
	order    []string
	defs     map[string]string // function name -> source
	imports  []string
	consts   []string
	wrappers []string
	helpers  map[string]bool
	problems []string
}

func newCallables(module, source string) *callables {
	return &callables{module: module, source: source, defs: map[string]string{},
		helpers: map[string]bool{}}
}

var defName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)`) })

// add puts a function in the module and returns the name it has there
// (name_2 when another function of that name is already there).
func (c *callables) add(fn *CallableIR) string { return c.addDepth(fn, 0) }

// maxHelperDepth bounds how deep helpers calling helpers are copied.
const maxHelperDepth = 20

func (c *callables) addDepth(fn *CallableIR, depth int) string {
	name := fn.Name
	closure := closureArgs(fn)
	src := withClosure(name, fn.Source, closure)
	for n := 2; ; n++ {
		prev, taken := c.defs[name]
		if !taken || prev == src {
			break
		}
		name = fmt.Sprintf("%s_%d", fn.Name, n)
		if closure != "" {
			src = withClosure(name, fn.Source, closure)
		} else {
			src = defName().ReplaceAllString(fn.Source, "${1}def "+name)
		}
	}
	if _, ok := c.defs[name]; !ok {
		c.defs[name] = src
		c.order = append(c.order, name)
		c.addGlobals(fn, depth)
	}
	return name
}

// closureArgs are the values fn closes over as keyword arguments
// ("n=1, prefix='a'"), "" for none.
func closureArgs(fn *CallableIR) string {
	var args []string
	for _, g := range sortedKeys(fn.Globals) {
		if v := fn.Globals[g].Closure; v != "" {
			args = append(args, g+"="+v)
		}
	}
	return strings.Join(args, ", ")
}

// withClosure writes a function that closes over values (one made in a
// loop or a factory function) inside a factory called with them, so that
// each task keeps its own values; name is what the module binds it to.
func withClosure(name, src, closure string) string {
	if closure == "" {
		return src
	}
	var params []string
	for _, a := range strings.Split(closure, ", ") {
		params = append(params, a[:strings.Index(a, "=")])
	}
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	m := defName().FindStringSubmatch(strings.TrimSpace(src))
	inner := name
	if m != nil {
		inner = m[2]
	}
	return fmt.Sprintf("def _make_%s(%s):\n%s\n    return %s\n\n\n%s = _make_%s(%s)\n",
		name, strings.Join(params, ", "), strings.Join(lines, "\n"), inner, name, name, closure)
}

func (c *callables) addGlobals(fn *CallableIR, depth int) {
	for _, g := range sortedKeys(fn.Globals) {
		u := fn.Globals[g]
		switch {
		case u.Import != "":
			c.addImport(importLine(g, u.Import))
		case u.From != "":
			line := "from " + u.From + " import " + u.Name
			if u.Name != g {
				line += " as " + g
			}
			c.addImport(line)
		case g == "PokeReturnValue" && u.Unknown != "":
			c.poker() // the module defines its own
		case u.Closure != "":
			// an argument of the function's factory (withClosure)
		case u.Literal != "":
			c.addConst(g + " = " + u.Literal)
		case u.Function != nil && u.Function.Source != "" && depth < maxHelperDepth:
			if _, ok := c.defs[u.Function.Name]; !ok {
				c.addDepth(u.Function, depth+1)
			}
		default:
			c.problems = append(c.problems, fmt.Sprintf("function %s reads %s (a %s) from the DAG file, which the importer cannot copy; define it in %s.py",
				fn.Name, g, u.Unknown, c.module))
		}
	}
}

func importLine(name, module string) string {
	switch {
	case name == module:
		return "import " + module
	case strings.HasSuffix(module, "."+name):
		i := strings.LastIndex(module, ".")
		return "from " + module[:i] + " import " + name
	}
	return "import " + module + " as " + name
}

func (c *callables) addImport(line string) {
	if !slices.Contains(c.imports, line) {
		c.imports = append(c.imports, line)
	}
}

func (c *callables) addConst(line string) {
	if !slices.Contains(c.consts, line) {
		c.consts = append(c.consts, line)
	}
}

// wrapper adds an adapter that decodes the JSON text templates give for
// XComArg arguments (`| tojson`) before calling fn, and passes on only the
// context values fn asks for; it returns the adapter's name.
func (c *callables) wrapper(task, fn string, jsonArgs []int, jsonKwargs []string) string {
	c.helpers["call"] = true
	name := "_" + pyIdent(strings.ReplaceAll(task, ".", "__")) + "_task"
	args := make([]string, len(jsonArgs))
	for i, a := range jsonArgs {
		args[i] = fmt.Sprint(a)
	}
	kw := make([]string, len(jsonKwargs))
	for i, k := range jsonKwargs {
		kw[i] = fmt.Sprintf("%q", k)
	}
	c.wrappers = append(c.wrappers, fmt.Sprintf(
		"def %s(*args, **kwargs):\n    \"\"\"Task %s: XCom arguments arrive as JSON text.\"\"\"\n    return _sirocco_call(%s, [%s], [%s], args, kwargs)\n",
		name, pyDocText(task), fn, strings.Join(args, ", "), strings.Join(kw, ", ")))
	return name
}

// pyDocText makes s safe inside a """docstring""": a file name or an id
// must not end the string and turn the rest into code of the module.
func pyDocText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ")
	return r.Replace(s)
}

// decider marks the module as needing _sirocco_decide (branch and
// short_circuit functions run from a command).
func (c *callables) decider() { c.helpers["decide"] = true }

// poker marks the module as needing _sirocco_poke (a sensor's function
// run from a bash_sensor's command).
func (c *callables) poker() { c.helpers["poke"] = true }

// pokeNotYet is the exit code of _sirocco_poke when the condition does not
// hold yet: the bash_sensor's retry_exit_code, so that an error of the
// function (exit 1) fails the try instead of meaning "not yet".
const pokeNotYet = 99

const helperCall = `def _sirocco_call(fn, json_args, json_kwargs, args, kwargs):
    """Decodes the JSON arguments and calls fn with the context values it names."""
    args = [json.loads(a) if i in json_args and isinstance(a, str) else a for i, a in enumerate(args)]
    for k in json_kwargs:
        if isinstance(kwargs.get(k), str):
            kwargs[k] = json.loads(kwargs[k])
    params = inspect.signature(fn).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)
`

// helperInvoke calls a module function from a task's command as Airflow
// would: its JSON arguments, the XComs rendered after them, and the
// context values it names (params included). The decide and poke helpers
// share it.
const helperInvoke = `def _sirocco_invoke(name, arguments, params_json, xcoms):
    """Calls the module's function name with a task command's arguments and
    the Airflow context values it asks for; returns its result."""
    import datetime
    import os
    fn = globals()[name]
    call = json.loads(arguments)
    env = os.environ
    logical = datetime.datetime.fromisoformat(env.get("SIROCCO_CTX_LOGICAL_DATE", "1970-01-01T00:00:00+00:00").replace("Z", "+00:00"))
    context = {"dag_id": env.get("SIROCCO_CTX_DAG_ID"), "task_id": env.get("SIROCCO_CTX_TASK_ID"),
               "run_id": env.get("SIROCCO_CTX_DAG_RUN_ID"), "try_number": int(env.get("SIROCCO_CTX_TRY_NUMBER", "1")),
               "logical_date": logical, "ds": logical.strftime("%Y-%m-%d"), "ds_nodash": logical.strftime("%Y%m%d"),
               "ts": logical.isoformat(), "params": json.loads(params_json or "{}")}
    args = list(call.get("op_args") or [])
    kwargs = dict(call.get("op_kwargs") or {})
    pulled = iter(json.loads(x) for x in xcoms)
    for i in call.get("xcom_args") or []:
        args[i] = next(pulled)
    for k in call.get("xcom_kwargs") or []:
        kwargs[k] = next(pulled)
    params = inspect.signature(fn).parameters
    for k, v in context.items():
        if k not in kwargs and (k in params or any(p.kind == p.VAR_KEYWORD for p in params.values())):
            kwargs[k] = v
    return fn(*args, **kwargs)
`

const helperDecide = `def _sirocco_decide(name, arguments, mode, params_json, *xcoms):
    """Runs a branch or short_circuit function from a task's command and
    prints its answer as the last line (see README, Branching)."""
    result = _sirocco_invoke(name, arguments, params_json, xcoms)
    print()
    if mode == "short_circuit":
        print("true" if result else "false")
    elif result is None:
        print("[]")
    elif isinstance(result, str):
        print(result)
    else:
        print(json.dumps(list(result)))
`

// helperPokeValue comes before the functions, which may name it in an
// annotation evaluated when the module is imported.
const helperPokeValue = `class PokeReturnValue:
    """Airflow's PokeReturnValue, for the sensor functions of this module."""

    def __init__(self, is_done, xcom_value=None):
        self.is_done = is_done
        self.xcom_value = xcom_value
`

const helperPoke = `def _sirocco_poke(name, arguments, params_json, *xcoms):
    """Runs a sensor's function once from a bash_sensor's command: exits 0
    when it is done, 99 (the task's retry_exit_code) when not yet; an error
    fails the try."""
    import sys
    result = _sirocco_invoke(name, arguments, params_json, xcoms)
    done = result.is_done if isinstance(result, PokeReturnValue) else bool(result)
    print("done" if done else "not yet")
    sys.exit(0 if done else 99)
`

// render returns the module's text, nil when the DAG has no functions.
func (c *callables) render() []byte {
	if len(c.order) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\"\"\"Python functions of a DAG converted from %s by `sirocco dags import-airflow`.\n\n", pyDocText(c.source))
	b.WriteString("Their Airflow decorators are removed; the tasks of the YAML file next to this\none call them (callable: module:function). Edit them freely.\n\"\"\"\n")
	imports := []string{"import inspect", "import json"}
	for _, l := range c.imports {
		if !slices.Contains(imports, l) {
			imports = append(imports, l)
		}
	}
	b.WriteString(strings.Join(imports, "\n") + "\n\n")
	if len(c.consts) > 0 {
		b.WriteString(strings.Join(c.consts, "\n") + "\n\n")
	}
	if c.helpers["poke"] {
		b.WriteString("\n" + helperPokeValue + "\n")
	}
	for _, n := range c.order {
		b.WriteString("\n" + strings.TrimRight(c.defs[n], "\n") + "\n\n")
	}
	for _, w := range c.wrappers {
		b.WriteString("\n" + w + "\n")
	}
	if c.helpers["call"] {
		b.WriteString("\n" + helperCall + "\n")
	}
	if c.helpers["decide"] || c.helpers["poke"] {
		b.WriteString("\n" + helperInvoke)
	}
	if c.helpers["decide"] {
		b.WriteString("\n" + helperDecide)
	}
	if c.helpers["poke"] {
		b.WriteString("\n" + helperPoke)
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}
