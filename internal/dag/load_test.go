package dag

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadFileFull(t *testing.T) {
	d, err := LoadFile("testdata/valid/full.yaml", testOpts)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if d.ID != "remote_pyspark" || d.Description != "Word count on the cluster, then a report." ||
		d.ScheduleSpec != "@daily" || d.Timezone.String() != "Europe/Paris" ||
		d.Catchup || d.MaxActiveRuns != 1 || d.MaxActiveTasks != 4 || d.DagrunTimeout != 6*time.Hour ||
		d.FileLoc != "testdata/valid/full.yaml" {
		t.Errorf("top-level fields wrong: %+v", d)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, paris); !d.StartDate.Equal(want) || d.StartDate.Location().String() != "Europe/Paris" {
		t.Errorf("StartDate = %v, want %v in Europe/Paris", d.StartDate, want)
	}
	if want := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC); !d.EndDate.Equal(want) {
		t.Errorf("EndDate = %v, want %v", d.EndDate, want)
	}
	if !IsPeriodic(d.Schedule) {
		t.Errorf("@daily schedule is not periodic")
	}
	// The schedule is read in the DAG's zone: @daily starts at Paris midnight.
	if iv, _ := d.Schedule.First(d.StartDate); !iv.Start.Equal(d.StartDate) || iv.End.Sub(iv.Start) != 24*time.Hour {
		t.Errorf("First(start) = %v", iv)
	}
	if !reflect.DeepEqual(d.Tags, []string{"spark", "reports"}) {
		t.Errorf("Tags = %v", d.Tags)
	}
	wantParams := map[string]Param{
		"input":      {Type: "string", Default: "/data/in", Description: "Input folder"},
		"partitions": {Type: "integer", Default: 8, Enum: []any{4, 8, 16}},
		"dry_run":    {Default: false},
	}
	if !reflect.DeepEqual(d.Params, wantParams) {
		t.Errorf("Params = %#v\nwant %#v", d.Params, wantParams)
	}

	inherited := Task{
		TriggerRule: AllSuccess, Retries: 2, RetryDelay: 30 * time.Second, RetryExponentialBackoff: true,
		ExecutionTimeout: 2 * time.Hour, Pool: DefaultPool, PoolSlots: 1, PriorityWeight: 1, Queue: "default",
		Env: map[string]string{"STAGE": "prod"},
	}
	with := func(f func(*Task)) *Task {
		t := inherited
		t.Env = map[string]string{"STAGE": "prod"}
		f(&t)
		return &t
	}
	want := []*Task{
		with(func(t *Task) {
			t.ID, t.Operator, t.Line, t.DependsOn = "extract", "bash", 19, []string{}
			t.Args = map[string]any{"command": `echo "{{ ds }}"`, "cwd": "/tmp", "append_env": true, "skip_on_exit_code": []any{99, 100}}
		}),
		with(func(t *Task) {
			t.ID, t.Operator, t.Line, t.DependsOn = "wordcount", "python", 25, []string{"extract"}
			t.Retries, t.Pool, t.PoolSlots, t.Queue, t.PriorityWeight = 5, "spark", 2, "spark_edge", 10
			t.Env = map[string]string{"PORT": "8080"} // replaces default_args env, as in Airflow
			t.Args = map[string]any{"script": "jobs/wordcount.py", "python": "python3",
				"args": []any{"{{ params.input }}", "/out/{{ ds_nodash }}", "3"}}
		}),
		with(func(t *Task) {
			t.ID, t.Operator, t.Line, t.DependsOn = "on_edge_node", "bash", 37, []string{"wordcount"}
			t.TriggerRule, t.MaxRetryDelay = AllDone, 24*time.Hour
			t.Args = map[string]any{"command": "spark-submit --master yarn jobs/report.py {{ ds }}"}
		}),
		with(func(t *Task) {
			t.ID, t.Operator, t.Line, t.DependsOn = "done", "empty", 43, []string{"wordcount", "on_edge_node"}
			t.TriggerRule = NoneFailedMinOneSuccess
			t.Args = map[string]any{}
		}),
	}
	if len(d.Tasks) != len(want) {
		t.Fatalf("got %d tasks, want %d", len(d.Tasks), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(d.Tasks[i], want[i]) {
			t.Errorf("task %d:\n got %+v\nwant %+v", i, *d.Tasks[i], *want[i])
		}
	}
	// Index was called.
	if d.Task("wordcount") != d.Tasks[1] {
		t.Errorf("Task(wordcount) not indexed")
	}
	if got := d.Downstream("wordcount"); !reflect.DeepEqual(got, []string{"on_edge_node", "done"}) {
		t.Errorf("Downstream(wordcount) = %v", got)
	}
}

func TestLoadFileDefaults(t *testing.T) {
	d, err := LoadFile("testdata/valid/minimal.yaml", LoadOptions{Operators: testOps})
	if err != nil {
		t.Fatal(err)
	}
	if d.ScheduleSpec != "none" || IsPeriodic(d.Schedule) || d.Timezone != time.UTC || d.Catchup ||
		d.MaxActiveRuns != 16 || d.MaxActiveTasks != 16 || !d.StartDate.IsZero() || !d.EndDate.IsZero() ||
		d.Params == nil || d.Tags == nil {
		t.Errorf("defaults wrong: %+v", d)
	}
	want := &Task{ID: "only", Operator: "empty", DependsOn: []string{}, TriggerRule: AllSuccess,
		RetryDelay: 300 * time.Second, Pool: DefaultPool, PoolSlots: 1, PriorityWeight: 1, Queue: "default",
		Env: map[string]string{}, Args: map[string]any{}, Line: 3}
	if !reflect.DeepEqual(d.Tasks[0], want) {
		t.Errorf("task defaults:\n got %+v\nwant %+v", *d.Tasks[0], *want)
	}
}

func TestLoadFileAnchors(t *testing.T) {
	d, err := LoadFile("testdata/valid/anchors.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	first, second := d.Tasks[0], d.Tasks[1]
	if second.Retries != 3 || second.Operator != "bash" || second.Args["command"] != "echo two" ||
		first.Args["command"] != "echo one" || second.Env["A"] != "1" {
		t.Errorf("merge key not applied: first %+v second %+v", *first, *second)
	}
	second.Env["A"] = "changed"
	if first.Env["A"] != "1" {
		t.Errorf("tasks share their env map")
	}
}

// TestLoadFileErrors checks every kind of problem against a fixture, with
// exact messages and positions, and that all problems of a file are reported.
func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"syntax.yaml", []string{
			`:3: YAML syntax error: did not find expected '-' indicator`,
		}},
		{"empty.yaml", []string{
			`:1:1: empty file (a DAG needs at least dag_id and tasks)`,
		}},
		{"two_docs.yaml", []string{
			`:5:1: a second YAML document starts here; a DAG file holds exactly one`,
		}},
		{"not_mapping.yaml", []string{
			`:1:1: expected a mapping, got a list`,
		}},
		{"unknown_keys.yaml", []string{
			`:2:1: unknown key "schedul" (did you mean "schedule"?)`,
			`:4:3: default_args: unknown key "retires" (did you mean "retries"?)`,
			`:5:3: default_args: unknown key "owner"`,
			`:6:3: default_args: key "depends_on" cannot be inherited; set it on each task`,
			`:8:21: params.p: unknown key "defualt" (did you mean "default"?)`,
			`:13:5: tasks[a]: unknown key "retires" (did you mean "retries"?)`,
			`:14:5: tasks[a]: unknown key "comand" (did you mean "command"?)`,
			`:15:5: tasks[a]: unknown key "dependson" (did you mean "depends_on"?)`,
			`:17:15: tasks[b].operator: unknown operator "nope" (known operators: bash, empty, python)`,
			`:18:5: tasks[b]: unknown key "whatever"`, // even with an unknown operator
		}},
		{"airflow_names.yaml", []string{
			`:2:1: unknown key "schedule_interval" (schedule_interval is Airflow's name; Sirocco's is "schedule")`,
			`:4:5: tasks[0]: unknown key "task_id" (task_id is Airflow's name; Sirocco's is "id")`,
			`:5:15: tasks[0].operator: unknown operator "BashOperator" (BashOperator is Airflow's name; Sirocco's operator is bash)`,
			`:6:5: tasks[0]: unknown key "bash_command" (bash_command is Airflow's name; Sirocco's is "command")`,
			`:9:5: tasks[transform]: unknown key "bash_command" (bash_command is Airflow's name; Sirocco's is "command")`,
			`:10:5: tasks[transform]: unknown key "upstream" (upstream is Airflow's name; Sirocco's is "depends_on")`,
			`:14:5: tasks[load]: unknown key "dependencies" (dependencies is Airflow's name; Sirocco's is "depends_on")`,
			`:16:15: tasks[remote].operator: unknown operator "SSHOperator" (SSHOperator is Airflow's name; Sirocco's operator is ssh (not available yet))`,
			`:18:5: tasks[remote]: unknown key "upstream" (upstream is Airflow's name; Sirocco's is "depends_on")`,
			`:20:15: tasks[pod].operator: unknown operator "KubernetesPodOperator" (KubernetesPodOperator is Airflow's name; Sirocco's operator is kubernetes_pod (not available yet))`,
			`:22:15: tasks[nothing].operator: unknown operator "DummyOperator" (DummyOperator is Airflow's name; Sirocco's operator is empty)`,
		}},
		{"types.yaml", []string{
			`:2:10: catchup: expected a boolean (true or false), got string "yes"`,
			`:3:18: max_active_runs: must be at least 1, got 0`,
			`:4:19: max_active_tasks: expected an integer, got string "many"`,
			`:5:17: dagrun_timeout: bad duration "5 minutes" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`,
			`:6:12: tags[1]: expected a string, got a list`,
			`:10:14: tasks[a].command: expected a string, got a list`,
			`:11:14: tasks[a].retries: expected an integer, got string "two"`,
			`:12:18: tasks[a].retry_delay: duration must not be negative, got "-5s"`,
			`:13:32: tasks[a].retry_exponential_backoff: expected a boolean (true or false), got integer 1`,
			`:14:17: tasks[a].pool_slots: must be at least 1, got 0`,
			`:15:22: tasks[a].priority_weight: expected an integer, got number 1.5`,
			`:16:17: tasks[a].append_env: expected a boolean (true or false), got string "true"`,
			`:17:28: tasks[a].skip_on_exit_code[1]: expected an integer, got string "x"`,
			`:18:14: tasks[a].env.A: expected a string, got a list`,
			`:22:11: tasks[b].args: expected a list of strings, got string "run.py"`,
			`:23:12: tasks[b].queue: must not be empty`,
			`:24:24: tasks[b].execution_timeout: bad duration "1.5x" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`,
		}},
		{"missing.yaml", []string{
			`:1:1: missing required key "dag_id"`,
			`:1:1: missing required key "start_date" (a DAG with schedule "0 6 * * *" needs one)`,
			`:1:1: missing required key "tasks"`,
		}},
		{"missing_task_keys.yaml", []string{
			`:3:5: tasks[0]: missing required key "id"`,
			`:5:5: tasks[no_operator]: missing required key "operator"`,
			`:6:5: tasks[no_command]: missing required key "command" (operator "bash" needs it)`,
			`:9:5: tasks[3]: expected a mapping, got string "just a string"`,
		}},
		{"bad_ids.yaml", []string{
			`:1:9: dag_id: invalid id "my dag" (only letters, digits, '_', '.' and '-' are allowed)`,
			`:3:9: tasks[0].id: must not be empty`,
			`:5:9: tasks[1].id: invalid id "with space" (only letters, digits, '_', '.' and '-' are allowed)`,
		}},
		{"dates.yaml", []string{
			`:3:11: timezone: unknown time zone "Mars/Olympus" (expected an IANA name such as "UTC" or "Europe/Paris")`,
			`:4:13: start_date: bad date "2026-13-01" (expected YYYY-MM-DD or RFC 3339, e.g. 2026-01-01 or 2026-01-01T06:00:00Z)`,
			`:5:11: end_date: bad date "tomorrow" (expected YYYY-MM-DD or RFC 3339, e.g. 2026-01-01 or 2026-01-01T06:00:00Z)`,
		}},
		{"end_before_start.yaml", []string{
			`:5:11: end_date: end_date 2026-05-31T00:00:00-04:00 is before start_date 2026-06-01T00:00:00-04:00`,
		}},
		{"bad_cron.yaml", []string{
			`:2:11: schedule: bad cron expression "0 6 * *": expected exactly 5 fields, found 4: [0 6 * *]`,
		}},
		{"bad_preset.yaml", []string{
			`:2:11: schedule: unknown preset "@dialy" (expected @once, @hourly, @daily, @weekly, @monthly or @yearly)`,
		}},
		{"trigger_rule.yaml", []string{
			`:3:17: default_args.trigger_rule: invalid trigger_rule "all_sucess" (did you mean "all_success"?); valid rules: all_success, all_failed, all_done, all_done_min_one_success, one_success, one_failed, one_done, none_failed, none_failed_min_one_success, none_skipped, all_skipped, always`,
			`:7:19: tasks[a].trigger_rule: invalid trigger_rule "sometimes"; valid rules: all_success, all_failed, all_done, all_done_min_one_success, one_success, one_failed, one_done, none_failed, none_failed_min_one_success, none_skipped, all_skipped, always`,
			`:10:19: tasks[b].trigger_rule: invalid trigger_rule "none_failed_or_skipped" (none_failed_or_skipped is Airflow's old name; Sirocco's is "none_failed_min_one_success")`,
			`:13:19: tasks[c].trigger_rule: invalid trigger_rule "dummy" (dummy is Airflow's old name; Sirocco's is "always")`,
		}},
		{"deps.yaml", []string{
			`:7:18: tasks[load].depends_on: unknown task "extrat" (did you mean "extract"?)`,
			`:7:26: tasks[load].depends_on: task "load" depends on itself`,
			`:8:9: tasks[2].id: duplicate task id "extract" (first defined at line 3)`,
			`:10:9: tasks[3].id: invalid id "bad-id!" (only letters, digits, '_', '.' and '-' are allowed)`,
			`:12:17: tasks[3].depends_on: expected a task id or a list of task ids, got a mapping`,
		}},
		{"groups.yaml", []string{
			`:9:18: tasks[load].depends_on: unknown task or group "extrct" (did you mean "extract"?)`,
			`:11:9: groups[extract].id: group id "extract" is also the id of a task (line 5)`,
			`:17:18: groups[transform].depends_on: group "transform" cannot depend on task "transform.t1", which is inside it`,
			`:17:32: groups[transform].depends_on: unknown task or group "strat" (did you mean "start"?)`,
			`:18:5: groups[transform]: unknown key "colour"`,
			`:25:9: groups[2].id: invalid group id "with.dot" (only letters, digits, '_' and '-': the dot joins a group's id to its tasks')`,
			`:28:9: groups[empty_group].id: group "empty_group" has no tasks`,
			`:30:5: groups[4]: unknown key "group_id" (group_id is Airflow's name; Sirocco's is "id")`,
			`:33:9: groups[5].id: duplicate group id "transform" (first defined at line 16)`,
		}},
		{"cycle.yaml", []string{
			`:7:25: tasks[a].depends_on: dependency cycle: a -> b -> c -> a`,
			`:16:18: tasks[x].depends_on: dependency cycle: x -> y -> x`,
		}},
		{"templates.yaml", []string{
			`:3:32: default_args.env.BAD: template syntax error: unclosed "{{"`,
			`:7:14: tasks[a].command: template syntax error: unclosed "{{"`,
			`:10:12: tasks[a].env.OUT: template syntax error: unclosed "{{"`,
			`:15:16: tasks[b].args[1]: template syntax error: unclosed "{{"`,
		}},
		{"params.yaml", []string{
			`:3:35: params.count.default: expected an integer, got string "ten"`,
			`:4:33: params.mode.default: "slow" is not one of the allowed values: "fast", "normal"`,
			`:5:17: params.ratio.type: unknown param type "float"; valid types: string, integer, number, boolean, array, object`,
			`:6:31: params.flags.enum[0]: expected a list, got integer 1`,
			`:6:34: params.flags.enum[1]: expected a list, got integer 2`,
			`:7:33: params.opts.default: expected a mapping, got a list`,
			`:8:36: params.level.enum[1]: expected an integer, got string "two"`,
		}},
		{"structure.yaml", []string{
			`:2:1: duplicate key "dag_id" (first defined at line 1)`,
			`:3:8: tasks: expected a non-empty list of tasks, got a list`,
			`:4:15: default_args: expected a mapping, got a list`,
			`:5:9: params: expected a mapping, got integer 3`,
		}},
		{"aliases.yaml", []string{
			`:2:1: unknown key "x"`,
			`:7:21: tasks[a].args[1]: expected a string, got a list`,
			`:9:13: params.p[1][1]: alias *r refers to a node that contains it`,
		}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file)
			d, err := LoadFile(path, testOpts)
			if d != nil {
				t.Errorf("got a DAG despite errors")
			}
			got := errorLines(t, err)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + w
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			for _, fe := range FileErrors(err) {
				if fe.File != path {
					t.Errorf("FileError.File = %q, want %q", fe.File, path)
				}
			}
		})
	}
}

// TestParseInline covers smaller cases that do not deserve a fixture file.
func TestParseInline(t *testing.T) {
	const head = "dag_id: x\ntasks:\n  - id: a\n    operator: bash\n    command: echo\n"
	tests := []struct {
		name, src string
		want      []string // errors; nil means it loads
		check     func(*testing.T, *DAG)
	}{
		{name: "durations", src: head + "    retry_delay: 90\n    execution_timeout: 1d12h\n    max_retry_delay: 1.5\n", check: func(t *testing.T, d *DAG) {
			tk := d.Tasks[0]
			if tk.RetryDelay != 90*time.Second || tk.ExecutionTimeout != 36*time.Hour || tk.MaxRetryDelay != 1500*time.Millisecond {
				t.Errorf("durations: %v %v %v", tk.RetryDelay, tk.ExecutionTimeout, tk.MaxRetryDelay)
			}
		}},
		{name: "null means unset", src: "dag_id: x\nschedule: null\ndescription:\ndefault_args: {retries: 4}\ntasks:\n  - {id: a, operator: empty, retries: null, depends_on: null}\n", check: func(t *testing.T, d *DAG) {
			if d.ScheduleSpec != "none" || d.Tasks[0].Retries != 4 {
				t.Errorf("ScheduleSpec %q retries %d", d.ScheduleSpec, d.Tasks[0].Retries)
			}
		}},
		{name: "schedule every", src: "dag_id: x\nschedule: every 15m\nstart_date: 2026-01-01T06:00:00+02:00\ntasks: [{id: a, operator: empty}]\n", check: func(t *testing.T, d *DAG) {
			iv, _ := d.Schedule.First(d.StartDate)
			if d.ScheduleSpec != "every 15m" || iv.End.Sub(iv.Start) != 15*time.Minute || !d.StartDate.Equal(time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC)) {
				t.Errorf("every: %q %v %v", d.ScheduleSpec, iv, d.StartDate)
			}
		}},
		{name: "schedule once needs start", src: "dag_id: x\nschedule: \"@once\"\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`1:1: missing required key "start_date" (a DAG with schedule "@once" needs one)`}},
		{name: "bad every", src: "dag_id: x\nschedule: every 0m\nstart_date: 2026-01-01\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:11: schedule: bad interval "0m" in "every" schedule (expected e.g. 15m, 2h, 1d)`}},
		{name: "cron that never fires", src: "dag_id: x\nschedule: 0 0 30 2 *\nstart_date: 2026-01-01\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:11: schedule: schedule "0 0 30 2 *" never fires (no matching time within 5 years)`}},
		{name: "local zone rejected", src: "dag_id: x\ntimezone: Local\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:11: timezone: unknown time zone "Local" (expected an IANA name such as "UTC" or "Europe/Paris")`}},
		{name: "operator typo", src: "dag_id: x\ntasks: [{id: a, operator: bsh}]\n",
			want: []string{`2:27: tasks[a].operator: unknown operator "bsh" (did you mean "bash"?)`}},
		{name: "tab indentation", src: "dag_id: x\ntasks:\n\t- id: a\n",
			want: []string{`3: YAML syntax error: found character that cannot start any token`}},
		{name: "unclosed flow", src: "dag_id: x\ntags: [a, b\ntasks: []\n",
			want: []string{`2: YAML syntax error: did not find expected ',' or ']'`}},
		{name: "duplicate key in args", src: head + "    cwd: /a\n    cwd: /b\n",
			want: []string{`7:5: tasks[a]: duplicate key "cwd" (first defined at line 6)`}},
		{name: "non-string key", src: "dag_id: x\n[a]: 1\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`2:1: mapping keys must be strings, got a list`}},
		{name: "integer out of range", src: head + "    retries: 99999999999999999999\n",
			want: []string{`6:14: tasks[a].retries: expected an integer, got number 99999999999999999999`}},
		{name: "huge duration", src: head + "    retry_delay: 999999999999d\n",
			want: []string{`6:18: tasks[a].retry_delay: bad duration "999999999999d" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`}},
		{name: "depends_on list of lists", src: "dag_id: x\ntasks:\n  - {id: a, operator: empty, depends_on: [[b]]}\n",
			want: []string{`3:43: tasks[a].depends_on: expected a string, got a list`}},
		{name: "no checker means no template check", src: head + "    cwd: \"{{ oops\"\n", check: func(t *testing.T, d *DAG) {}},
		{name: "billion laughs", src: "dag_id: x\nparams:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\ntasks: [{id: a, operator: empty}]\n",
			want: []string{`document too large after expanding YAML aliases`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts
			if tt.name == "no checker means no template check" {
				opts.CheckTemplate = nil
			}
			d, err := Parse("x.yaml", []byte(tt.src), opts)
			got := errorLines(t, err)
			var want []string
			for _, w := range tt.want {
				if strings.HasPrefix(w, "document") {
					want = append(want, "x.yaml: "+w)
				} else {
					want = append(want, "x.yaml:"+w)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("errors:\n got %q\nwant %q", got, want)
			}
			if (d == nil) != (err != nil) {
				t.Fatalf("d = %v with err = %v", d, err)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/nope.yaml", testOpts)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
	if fes := FileErrors(err); len(fes) != 1 || fes[0].File != "testdata/nope.yaml" || fes[0].Line != 0 {
		t.Errorf("FileErrors = %+v", fes)
	}
}

func TestFileErrorFormat(t *testing.T) {
	tests := []struct {
		e    FileError
		want string
	}{
		{FileError{File: "dags/x.yaml", Line: 12, Column: 5, Field: "tasks[2].retries", Msg: `expected an integer, got string "two"`},
			`dags/x.yaml:12:5: tasks[2].retries: expected an integer, got string "two"`},
		{FileError{File: "x.yaml", Line: 3, Msg: "YAML syntax error: oops"}, "x.yaml:3: YAML syntax error: oops"},
		{FileError{File: "x.yaml", Msg: "permission denied"}, "x.yaml: permission denied"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30s", 30 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"2h", 2 * time.Hour, ""},
		{"1d", 24 * time.Hour, ""},
		{"2d6h", 54 * time.Hour, ""},
		{"300", 300 * time.Second, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{"0", 0, ""},
		{" 45m ", 45 * time.Minute, ""},
		{"-5s", 0, `duration must not be negative, got "-5s"`},
		{"-1", 0, `duration must not be negative, got "-1"`},
		{"5", 5 * time.Second, ""},
		{"five", 0, `bad duration "five" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
		{"1d-2h", 0, `bad duration "1d-2h" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
		{"d", 0, `bad duration "d" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
		{"", 0, `bad duration "" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
		{"NaN", 0, `bad duration "NaN" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
		{"1e300", 0, `bad duration "1e300" (expected e.g. 30s, 5m, 1h30m, 1d or a number of seconds)`},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseDuration(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"retries", "retry_delay", "depends_on", "schedule", "pool", "queue", "type"}
	tests := []struct{ word, want string }{
		{"retires", "retries"},
		{"retry_delya", "retry_delay"},
		{"dependson", "depends_on"},
		{"depend_on", "depends_on"},
		{"Schedule", "schedule"},
		{"pol", "pool"},
		{"xyz", ""},
		{"owner", ""},
		{"typ", "type"},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if got := suggest("str", paramTypes); got != "string" {
		t.Errorf("suggest(str) = %q, want string (prefix)", got)
	}
}
