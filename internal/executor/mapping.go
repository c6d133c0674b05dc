package executor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// mappedArgs sets in args the field values of mapped instance k: its
// element of the task's lists, read again from the same literal lists and
// upstream XComs the scheduler expanded over (only the length was stored).
// They are set before rendering, so templated fields render as others do.
func (r *Runner) mappedArgs(ctx context.Context, k store.TaskKey, t *dag.Task, spec dag.OperatorSpec, args map[string]any) error {
	lists, err := scheduler.MapLists(ctx, r.Store, k, t.Expand)
	if err != nil {
		return fmt.Errorf("mapped task: %w", err)
	}
	el, err := t.Expand.Element(lists, k.MapIndex())
	if err != nil {
		return fmt.Errorf("mapped task: the list changed since the task expanded: %w", err)
	}
	kinds := make(map[string]dag.FieldKind, len(spec.Fields))
	for _, f := range spec.Fields {
		kinds[f.Name] = f.Kind
	}
	for name, v := range el {
		kind, ok := kinds[name]
		if !ok {
			return fmt.Errorf("mapped task: %q is not a field of operator %q", name, t.Operator)
		}
		args[name] = fieldValue(kind, v)
	}
	return nil
}

// fieldValue fits an element decoded from JSON to a field's kind: a
// string field takes a number or boolean as its text and anything else as
// JSON; integers of integer fields arrive as json.Number or float64.
func fieldValue(kind dag.FieldKind, v any) any {
	switch kind {
	case dag.FieldString:
		switch x := v.(type) {
		case string:
			return x
		case json.Number, bool, float64, int, int64:
			return fmt.Sprint(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return fmt.Sprint(x)
			}
			return string(b)
		}
	case dag.FieldInt:
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil {
				return int(n)
			}
		case float64:
			if x == float64(int(x)) {
				return int(x)
			}
		}
	case dag.FieldIntList:
		if l, ok := v.([]any); ok {
			out := make([]any, len(l))
			for i, e := range l {
				out[i] = fieldValue(dag.FieldInt, e)
			}
			return out
		}
	}
	return v
}

// pullMapped is xcom_pull of a mapped task: the values its instances
// pushed under key, as a list in map index order (Airflow's lazy sequence).
func (r *Runner) pullMapped(ctx context.Context, k store.TaskKey, key string, found func(string) error) (any, error) {
	xs, err := r.Store.MappedXComs(ctx, k, key)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(xs))
	for _, x := range xs {
		if err := found(x.Value); err != nil {
			return nil, fmt.Errorf("xcom_pull %s: %w", k.TaskID, err)
		}
		var v any
		if json.Unmarshal([]byte(x.Value), &v) != nil {
			v = x.Value
		}
		out = append(out, v)
	}
	return out, nil
}
