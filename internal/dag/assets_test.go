package dag

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeAssetURI(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "s3://bucket/key", want: "s3://bucket/key"},
		{in: "  S3://Bucket/key///  ", want: "s3://bucket/key"},
		{in: "s3://bucket", want: "s3://bucket/"},
		{in: "file:///data/x#frag", want: "file:///data/x"},
		{in: "http://h/p?b=2&a=1&a=0", want: "http://h/p?a=1&a=0&b=2"},
		{in: "X-My://Name/Path/", want: "x-my://Name/Path/"},
		{in: "", err: "asset URI is empty"},
		{in: "/data/file.csv", err: "has no scheme"},
		{in: "bucket/key", err: "has no scheme"},
		{in: "airflow://dag/x", err: `the scheme "airflow" is reserved`},
		{in: "s3://user:secret@bucket/key", err: "must not contain credentials"},
		{in: "s3://user@bucket/key", err: "must not contain credentials"},
		{in: "s3://bücket/key", err: "printable ASCII"},
		{in: "mailto:someone", err: "expected mailto:// followed by a location"},
		{in: "s3://b/%zz", err: "not a URI"},
		{in: "s3://" + strings.Repeat("a", 1600), err: "at most 1500"},
	}
	for _, tt := range tests {
		got, err := NormalizeAssetURI(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("NormalizeAssetURI(%.40q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("NormalizeAssetURI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestAssetConditionHolds(t *testing.T) {
	leaf := func(u string) *AssetCondition { return &AssetCondition{URI: u} }
	c := &AssetCondition{Children: []*AssetCondition{leaf("a"), {Any: true, Children: []*AssetCondition{leaf("b"), leaf("c")}}}}
	tests := []struct {
		updated []string
		want    bool
	}{
		{nil, false}, {[]string{"a"}, false}, {[]string{"b", "c"}, false},
		{[]string{"a", "b"}, true}, {[]string{"a", "c"}, true}, {[]string{"a", "b", "c"}, true},
	}
	for _, tt := range tests {
		got := c.Holds(func(u string) bool { return strings.Contains(strings.Join(tt.updated, ","), u) })
		if got != tt.want {
			t.Errorf("%s with %v = %v, want %v", c, tt.updated, got, tt.want)
		}
	}
	if got, want := c.String(), "all(a, any(b, c))"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := c.URIs(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("URIs = %v", got)
	}
}

func TestLoadAssets(t *testing.T) {
	d, err := LoadFile("testdata/valid/assets.yaml", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.ScheduleSpec, "assets: all(s3://bucket/raw, any(file:///data/a, x-custom://Thing/Q?b=2&a=1))"; got != want {
		t.Errorf("ScheduleSpec = %q, want %q", got, want)
	}
	if IsPeriodic(d.Schedule) || d.AssetSchedule == nil {
		t.Errorf("schedule %v, asset schedule %v", d.Schedule, d.AssetSchedule)
	}
	tk := d.Tasks[0]
	want := []Asset{{URI: "s3://bucket/clean?a=2&z=1"}, {URI: "postgres://db:5432/sales/public/orders", Extra: map[string]any{"rows": 10}}}
	if !reflect.DeepEqual(tk.Outlets, want) {
		t.Errorf("outlets = %#v", tk.Outlets)
	}
	if !reflect.DeepEqual(tk.Inlets, []Asset{{URI: "s3://bucket/raw"}}) {
		t.Errorf("inlets = %#v", tk.Inlets)
	}
}

func TestLoadAssetErrors(t *testing.T) {
	const task = "tasks: [{id: a, operator: empty}]\n"
	tests := []struct{ name, src, want string }{
		{"no scheme in schedule", "dag_id: x\nschedule: [data/x]\n" + task,
			`x.yaml:2:12: schedule[0]: asset URI "data/x" has no scheme`},
		{"empty list", "dag_id: x\nschedule: []\n" + task,
			`x.yaml:2:11: schedule: expected at least one asset, got an empty list`},
		{"unknown op", "dag_id: x\nschedule: {assets: {every: [s3://a]}}\n" + task,
			`x.yaml:2:21: schedule.assets: unknown key "every"`},
		{"two ops", "dag_id: x\nschedule: {assets: {all: [s3://a], any: [s3://b]}}\n" + task,
			`x.yaml:2:20: schedule.assets: expected exactly one of "all" or "any", got 2 keys`},
		{"not assets", "dag_id: x\nschedule: {cron: \"@daily\"}\n" + task,
			`x.yaml:2:12: schedule: unknown key "cron"`},
		{"nested bad", "dag_id: x\nschedule: {assets: {any: [s3://a, {all: [s3://u:p@b/c]}]}}\n",
			`x.yaml:2:42: schedule.assets.any[1].all[0]: asset URI "s3://u:xxxxx@b/c" must not contain credentials`},
		{"number item", "dag_id: x\nschedule: [s3://a, 3]\n" + task, ""},
		{"outlet credentials", "dag_id: x\ntasks: [{id: a, operator: empty, outlets: [\"s3://k:secret@b/c\"]}]\n",
			`x.yaml:2:44: tasks[a].outlets[0]: asset URI "s3://k:xxxxx@b/c" must not contain credentials`},
		{"outlet twice", "dag_id: x\ntasks: [{id: a, operator: empty, outlets: [s3://b/c, S3://b/c/]}]\n",
			`x.yaml:2:54: tasks[a].outlets[1]: asset "s3://b/c" is listed twice`},
		{"outlet missing uri", "dag_id: x\ntasks: [{id: a, operator: empty, outlets: [{extra: {a: 1}}]}]\n",
			`x.yaml:2:44: tasks[a].outlets[0]: missing required key "uri"`},
		{"outlet extra not map", "dag_id: x\ntasks: [{id: a, operator: empty, outlets: [{uri: s3://b, extra: 3}]}]\n",
			`tasks[a].outlets[0].extra: expected a mapping, got integer 3`},
		{"outlets not list", "dag_id: x\ntasks: [{id: a, operator: empty, outlets: s3://b}]\n",
			`tasks[a].outlets: expected a list of asset URIs or {uri, extra} mappings, got string "s3://b"`},
		{"inherited outlets", "dag_id: x\ndefault_args: {outlets: [s3://b]}\n" + task,
			`default_args: key "outlets" cannot be inherited`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("x.yaml", []byte(tt.src), testOpts)
			if d != nil || err == nil {
				t.Fatalf("loaded %v", d)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain\n%s", err, tt.want)
			}
		})
	}
}

// TestLoadAssetScheduleAliasLoop: an alias to a condition that contains it
// is reported once where it is written, not nested until a limit.
func TestLoadAssetScheduleAliasLoop(t *testing.T) {
	_, err := Parse("x.yaml", []byte("dag_id: x\nschedule: &s [s3://a, {any: *s}]\ntasks: [{id: a, operator: empty}]\n"), testOpts)
	want := `x.yaml:2:29: schedule[1].any: alias *s refers to a node that contains it`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
