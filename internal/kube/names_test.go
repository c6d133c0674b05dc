package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TestSafeLabelValue: values a label can hold are kept; others are cut
// and hashed as Airflow's make_safe_label_value does, and the result is
// always a valid label value (Airflow's can start with '-').
func TestSafeLabelValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 70)
	tests := []struct{ in, want string }{
		{"remote_pyspark", "remote_pyspark"},
		{"manual__2026-01-01T00:00:00+00:00", "manual__2026-01-01T000000000-1c8abd8bd"},
		{"", ""},
		{long, strings.Repeat("a", 53) + "-" + "3b6a6a4d4"},
		{"!!!", "9f25e1ec5"},
		{"-x-", "x-b1cd2f6f7"},
	}
	for _, tt := range tests {
		got := SafeLabelValue(tt.in)
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("SafeLabelValue(%q) = %q, invalid: %v", tt.in, got, errs)
		}
		if len(tt.want) > 0 && !strings.HasPrefix(got, tt.want[:max(0, strings.LastIndexByte(tt.want, '-'))]) {
			t.Errorf("SafeLabelValue(%q) = %q, want the form %q", tt.in, got, tt.want)
		}
		if tt.in == tt.want && got != tt.want {
			t.Errorf("SafeLabelValue(%q) = %q, want it unchanged", tt.in, got)
		}
	}
	if SafeLabelValue("a b") == SafeLabelValue("a_b") || SafeLabelValue("ab!") == SafeLabelValue("ab?") {
		t.Error("two different values must stay different")
	}
}

// TestPodName: Airflow's rules for the name field, a random suffix, and
// a clear error for what no pod can be called.
func TestPodName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, prefix, err string
		suffix          bool
	}{
		{in: "pyspark-job", prefix: "pyspark-job-", suffix: true},
		{in: "PySpark_Job.v2", prefix: "pyspark-job-v2-", suffix: true},
		{in: "pyspark-job", prefix: "pyspark-job", suffix: false},
		{in: "_lead", prefix: "lead-", suffix: true},
		{in: "_lead", err: "not a valid pod name", suffix: false},
		{in: "a b", err: "may only contain", suffix: true},
		{in: "", err: "empty", suffix: true},
		{in: strings.Repeat("x", 221), err: "longer than 220", suffix: true},
		{in: strings.Repeat("x", 220), prefix: strings.Repeat("x", 54) + "-", suffix: true},
	}
	for _, tt := range tests {
		got, err := PodName(tt.in, tt.suffix)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("PodName(%.30q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(got, tt.prefix) {
			t.Errorf("PodName(%.30q) = %q, %v; want prefix %q", tt.in, got, err, tt.prefix)
		}
		if tt.suffix && (len(got) != min(len(tt.prefix)+suffixLen, PodNameMaxLength) || len(got) > PodNameMaxLength) {
			t.Errorf("PodName(%.30q) = %q: length %d", tt.in, got, len(got))
		}
		if !tt.suffix && got != tt.prefix {
			t.Errorf("PodName(%q) = %q, want %q", tt.in, got, tt.prefix)
		}
	}
	a, _ := PodName("job", true)
	b, _ := PodName("job", true)
	if a == b {
		t.Errorf("two suffixed names are equal: %q", a)
	}
}

func TestNameFromTaskID(t *testing.T) {
	t.Parallel()
	for in, prefix := range map[string]string{"in_kubernetes": "in-kubernetes-", "Run PySpark!": "run-pyspark-", "___": "task-",
		strings.Repeat("t", 100): strings.Repeat("t", 54) + "-"} {
		got, err := NameFromTaskID(in, true)
		if err != nil || !strings.HasPrefix(got, prefix) || len(got) > PodNameMaxLength {
			t.Errorf("NameFromTaskID(%q) = %q, %v; want prefix %q", in, got, err, prefix)
		}
	}
}

func TestTryLabelsAndSelector(t *testing.T) {
	t.Parallel()
	l := TryLabels("dag", "task", "manual__2026-01-01T00:00:00+00:00", 3)
	if err := CheckLabels("labels", l); err != nil {
		t.Fatal(err)
	}
	want := "app.kubernetes.io/managed-by=sirocco,dag_id=dag,kubernetes_pod_operator=True,run_id=" + l[LabelRunID] + ",task_id=task,try_number=3"
	if got := Selector(l); got != want {
		t.Errorf("Selector = %q, want %q", got, want)
	}
}
