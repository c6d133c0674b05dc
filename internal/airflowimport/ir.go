package airflowimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// FileResult is what the shim reports for one Airflow DAG file: the DAGs it
// defined, or the error that stopped it.
type FileResult struct {
	File  string     `json:"file"`
	DAGs  []DAGIR    `json:"dags"`
	Error *FileError `json:"error"`
}

// FileError is a Python exception raised while the file ran, with the
// FILE:LINE in the DAG file where it happened.
type FileError struct {
	Message   string `json:"message"`
	Loc       string `json:"loc"`
	Traceback string `json:"traceback"`
}

// DAGIR is one DAG as the shim recorded it: its keyword arguments as
// written (encoded values, see Value kinds below), its tasks and groups.
type DAGIR struct {
	DagID  string         `json:"dag_id"`
	Loc    string         `json:"loc"`
	Kwargs map[string]any `json:"kwargs"`
	Tasks  []TaskIR       `json:"tasks"`
	Groups []GroupIR      `json:"groups"`
}

// TaskIR is one operator instance: its Airflow class, arguments, group and
// the full ids of its upstream tasks (groups already resolved, as Airflow
// resolves `group >> task` when it runs).
type TaskIR struct {
	TaskID      string         `json:"task_id"`
	Class       string         `json:"class"`
	Module      string         `json:"module"`
	Kind        string         `json:"kind"`
	Loc         string         `json:"loc"`
	Group       string         `json:"group"`
	Kwargs      map[string]any `json:"kwargs"`
	DefaultArgs map[string]any `json:"default_args"`
	Upstream    []string       `json:"upstream"`
	Mapped      bool           `json:"mapped"`
	Mapping     map[string]any `json:"mapping"`
	Decorator   string         `json:"decorator"`
	Callable    *CallableIR    `json:"callable"`
}

// GroupIR is one TaskGroup; GroupID is its full id, Parent its parent's.
type GroupIR struct {
	GroupID       string         `json:"group_id"`
	ShortID       string         `json:"short_id"`
	Parent        string         `json:"parent"`
	PrefixGroupID bool           `json:"prefix_group_id"`
	Tooltip       string         `json:"tooltip"`
	DefaultArgs   map[string]any `json:"default_args"`
	Kwargs        map[string]any `json:"kwargs"`
	Loc           string         `json:"loc"`
}

// CallableIR is a Python function's source without its decorators, and
// what it reads from its module (imports, constants, other functions).
type CallableIR struct {
	Name    string                `json:"name"`
	Source  string                `json:"source"`
	Error   string                `json:"error"`
	Globals map[string]GlobalUsed `json:"globals"`
	Params  []string              `json:"params"`
}

// GlobalUsed is one module-level name a callable reads: exactly one of the
// fields is set.
type GlobalUsed struct {
	Import   string      `json:"import"`
	Literal  string      `json:"literal"`
	From     string      `json:"from"`
	Name     string      `json:"name"`
	Function *CallableIR `json:"function"`
	Unknown  string      `json:"unknown"`
}

// maxLine bounds one line of the shim's output (one file's DAGs).
const maxLine = 64 << 20

// ParseResult decodes one line of the shim's output. Numbers stay
// json.Number so that 3 and 3.0 keep their meaning.
func ParseResult(line []byte) (FileResult, error) {
	var r FileResult
	if len(line) > maxLine {
		return r, fmt.Errorf("shim output line of %d bytes exceeds %d", len(line), maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return FileResult{}, fmt.Errorf("decode shim output: %w", err)
	}
	if dec.More() {
		return FileResult{}, errors.New("decode shim output: trailing data after the object")
	}
	if r.File == "" {
		return FileResult{}, errors.New("decode shim output: no file name")
	}
	for i, d := range r.DAGs {
		if d.DagID == "" {
			return FileResult{}, fmt.Errorf("decode shim output: %s: DAG %d has no dag_id", r.File, i)
		}
		if err := checkGroups(r.File, d); err != nil {
			return FileResult{}, err
		}
		for j, t := range d.Tasks {
			if t.TaskID == "" {
				return FileResult{}, fmt.Errorf("decode shim output: %s: DAG %s: task %d has no task_id", r.File, d.DagID, j)
			}
		}
	}
	return r, nil
}

// checkGroups makes sure the groups form a tree: unique ids, each parent
// listed before its children (the shim lists them as they were created),
// so that walking up from a group always ends.
func checkGroups(file string, d DAGIR) error {
	seen := make(map[string]bool, len(d.Groups))
	for i, g := range d.Groups {
		if g.GroupID == "" || seen[g.GroupID] {
			return fmt.Errorf("decode shim output: %s: DAG %s: group %d: empty or repeated id %q", file, d.DagID, i, g.GroupID)
		}
		if g.Parent != "" && !seen[g.Parent] {
			return fmt.Errorf("decode shim output: %s: DAG %s: group %s: parent %q is not listed before it", file, d.DagID, g.GroupID, g.Parent)
		}
		seen[g.GroupID] = true
	}
	return nil
}
