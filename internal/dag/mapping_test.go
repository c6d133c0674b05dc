package dag

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestLoadMapping(t *testing.T) {
	d, err := LoadFile("testdata/valid/mapping.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	per := d.Task("per_file")
	if !per.Mapped() || per.MaxActiveTIsPerDAG != 2 || len(per.Expand.Fields) != 1 ||
		per.Expand.Fields[0].Name != "command" || per.Expand.Fields[0].XComTask != "list_files" ||
		per.Expand.Fields[0].XComKey != "return_value" {
		t.Fatalf("per_file = %+v / %+v", per, per.Expand)
	}
	if !reflect.DeepEqual(per.DependsOn, []string{"list_files"}) {
		t.Errorf("per_file depends on %v; want the task whose XCom it expands over", per.DependsOn)
	}
	cross := d.Task("cross").Expand
	lists := [][]any{cross.Fields[0].Literal, cross.Fields[1].Literal}
	if n := cross.MapLength([]int{2, 3}); n != 6 {
		t.Fatalf("cross length = %d", n)
	}
	var got []string
	for i := range 6 {
		el, err := cross.Element(lists, i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, el["cwd"].(string)+"|"+el["command"].(string))
	}
	want := "/tmp|echo 1,/tmp|echo 2,/tmp|echo 3,/|echo 1,/|echo 2,/|echo 3"
	if strings.Join(got, ",") != want {
		t.Errorf("cross product = %s; want %s (last field fastest, as Airflow)", strings.Join(got, ","), want)
	}
	kw := d.Task("kwargs").Expand
	el, err := kw.Element([][]any{kw.Kwargs.Literal}, 1)
	if err != nil || el["command"] != "echo y" || el["cwd"] != "/tmp" {
		t.Fatalf("kwargs element 1 = %v, %v", el, err)
	}
	if d.Task("list_files").Mapped() {
		t.Error("list_files is mapped")
	}
}

func TestLoadMappingErrors(t *testing.T) {
	for _, tt := range []struct{ name, task, want string }{
		{"unknown field", "{id: m, operator: bash, expand: {comand: [a]}}", `:3:38: tasks[m].expand.comand: "comand" is not a field of operator "bash"`},
		{"not a list", "{id: m, operator: bash, expand: {command: 3}}", `tasks[m].expand.command: expected a list, or {xcom: task_id}`},
		{"both", "{id: m, operator: bash, command: x, expand: {command: [a]}}", `tasks[m].command: field "command" is set on the task and in expand`},
		{"xcom missing", "{id: m, operator: bash, expand: {command: {key: k}}}", `missing required key "xcom"`},
		{"own xcom", "{id: m, operator: bash, expand: {command: {xcom: m}}}", `cannot expand over its own XCom`},
		{"unknown upstream", "{id: m, operator: bash, expand: {command: {xcom: nope}}}", `nope`},
		{"kwargs item", "{id: m, operator: bash, expand_kwargs: [{command: a}, 3]}", `tasks[m].expand_kwargs[1]: expected a mapping`},
		{"item type", "{id: m, operator: bash, expand: {skip_on_exit_code: [[x]]}}", `tasks[m].expand.skip_on_exit_code[0]`},
		{"max_active", "{id: m, operator: bash, command: x, max_active_tis_per_dag: 0}", `max_active_tis_per_dag`},
		{"expand and kwargs", "{id: m, operator: bash, expand: {command: [a]}, expand_kwargs: [{cwd: b}]}", `either expand or expand_kwargs`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "dag_id: x\ntasks:\n  - " + tt.task + "\n"
			_, err := Parse("f.yaml", []byte(src), testOpts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v; want an error with %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "f.yaml:") {
				t.Errorf("error %v does not name the file", err)
			}
		})
	}
}

// TestMapLengthOverflow (rev11b): a cross product too large for an int
// stays more than any max_map_length; it wrapped round before, to 0 for
// five lists of 8192 (the task skipped as if mapped over nothing) or to a
// negative number (no limit applied), in dags validate and at run time.
func TestMapLengthOverflow(t *testing.T) {
	e := &Expand{}
	for _, tt := range []struct {
		lens []int
		want int
	}{
		{[]int{8192, 8192, 8192, 8192, 8192}, math.MaxInt},       // 2^65
		{[]int{1 << 16, 1 << 16, 1 << 16, 1 << 15}, math.MaxInt}, // 2^63
		{[]int{600, 600, 600, 600, 600, 600, 600}, math.MaxInt},
		{[]int{1 << 31, 1 << 31, 0}, 0}, // an empty list empties the product
		{[]int{1 << 20, 1 << 20}, 1 << 40},
		{nil, 1},
	} {
		if got := e.MapLength(tt.lens); got != tt.want {
			t.Errorf("MapLength(%v) = %d; want %d", tt.lens, got, tt.want)
		}
	}
	lit := func(n int) MapSource { return MapSource{Literal: make([]any, n)} }
	wide := &Expand{}
	for range 5 {
		wide.Fields = append(wide.Fields, ExpandField{MapSource: lit(8192)})
	}
	if n, ok := wide.LiteralLength(); !ok || n != math.MaxInt {
		t.Errorf("LiteralLength of five lists of 8192 = %d, %v; want math.MaxInt", n, ok)
	}
}
