package template

import (
	"slices"
	"strings"
	"testing"
)

func TestXComTaskIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []string
	}{
		{"echo {{ ds }}", nil},
		{"{{ ti.xcom_pull('a') }}", []string{"a"}},
		{`{{ ti.xcom_pull("a", key='k') }}`, []string{"a"}},
		{"{{ ti.xcom_pull(task_ids='a') }}", []string{"a"}},
		{"{{ task_instance.xcom_pull(key='k', task_ids='a') }}", []string{"a"}},
		{"{{ ti.xcom_pull(['a', 'b']) }}", []string{"a", "b"}},
		{"{{ ti.xcom_pull(task_ids=('a', params.t, 'b')) }}", []string{"a", "b"}},
		{"{{ ti.xcom_pull(params.t) }}", nil},
		{"{{ ti.xcom_pull(task_ids='x' ~ ds) }}", nil},
		{"{{ ti.xcom_pull() }}", nil},
		{"{% for t in ['a'] %}{{ ti.xcom_pull(t) }}{% endfor %}", nil},
		{"{% if true %}\n{{ ti.xcom_pull('a') | default('-') }}{% endif %}{{ ti.xcom_pull('c')['x'] }}", []string{"a", "c"}},
		{"{% set v = ti.xcom_pull('a') %}{{ v }}", []string{"a"}},
		{"{{ other.xcom_pull('a') }}", nil},
		{"{{ ti.xcom_pull('a' }}", nil}, // syntax error: Check reports it
	}
	for _, tt := range tests {
		if got := XComTaskIDs(tt.src); !slices.Equal(got, tt.want) {
			t.Errorf("XComTaskIDs(%q) = %q, want %q", tt.src, got, tt.want)
		}
		// The walk only reads: the (cached, shared) template still renders.
		if err := Check(tt.src); err == nil && strings.Contains(tt.src, "ti.xcom_pull('a')") {
			ctx := NewContext(Info{DagID: "d", XComPull: func(string, string) (any, error) { return nil, nil }})
			if _, err := Render(tt.src, ctx); err != nil && !strings.Contains(err.Error(), "None") {
				t.Errorf("Render(%q) after XComTaskIDs: %v", tt.src, err)
			}
		}
	}
}

// TestXComPullUnknownTask: a task the DAG lacks is an error at render time
// (a computed id the loader could not check); an existing task that pushed
// nothing gives None, as in Airflow.
func TestXComPullUnknownTask(t *testing.T) {
	t.Parallel()
	info := testInfo()
	info.XComPull = func(string, string) (any, error) { return nil, nil }
	info.HasTask = func(id string) bool { return id == "extract" || id == "load" }
	ctx := NewContext(info)
	for _, src := range []string{
		"{{ ti.xcom_pull('extract') is none }}",
		"{{ ti.xcom_pull(task_ids=['extract', 'load']) | length }}",
		"{{ ti.xcom_pull('ex' ~ 'tract', default='x') }}",
	} {
		if _, err := Render(src, ctx); err != nil {
			t.Errorf("Render(%q): %v", src, err)
		}
	}
	for _, src := range []string{
		"{{ ti.xcom_pull('ex' ~ 'trakt') }}",
		"{{ ti.xcom_pull(task_ids=['extract', params.nope | default('nope')]) }}",
		"{{ ti.xcom_pull('nope', default='x') }}",
	} {
		_, err := Render(src, ctx)
		if err == nil || !strings.Contains(err.Error(), "has no task") {
			t.Errorf("Render(%q) = %v, want a 'has no task' error", src, err)
		}
	}
}
