package operator_test

import (
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/all"
	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/operator/spark"
)

// TestHandleKind: the envelope of every stored handle, including those
// stored before versions (version 1) and before kinds (a process handle).
func TestHandleKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		handle, kind string
		version      int
		wantErr      string
	}{
		{handle: `{"kind":"spark_driver","version":2,"driver_id":"d"}`, kind: "spark_driver", version: 2},
		{handle: `{"kind":"spark_driver","driver_id":"d"}`, kind: "spark_driver", version: 1},
		{handle: `{"kind":"process","host":"h","pid":42,"pgid":42}`, kind: "process", version: 1},
		{handle: ` {"host":"h","pid":42,"pgid":42,"start_time":7}`, kind: "process", version: 1},
		{handle: `{"pgid":42}`, kind: "process", version: 1},
		{handle: `{"kind":"ssh_job","version":7,"anything":[1,2]}`, kind: "ssh_job", version: 7},
		{handle: `{}`, wantErr: "names no kind"},
		{handle: `{"conn_id":"spark"}`, wantErr: "names no kind"},
		{handle: `{"kind":"x","version":0}`, wantErr: "version 0"},
		{handle: `{"kind":"x","version":-2}`, wantErr: "version -2"},
		{handle: `{"kind":"x","version":1.5}`, wantErr: "decode handle"},
		{handle: `{"kind":7}`, wantErr: "decode handle"},
		{handle: `file:/tmp/x`, wantErr: "not a JSON object"},
		{handle: `null`, wantErr: "not a JSON object"},
		{handle: ``, wantErr: "not a JSON object"},
		{handle: `{"kind":"x"`, wantErr: "decode handle"},
	}
	for _, tt := range tests {
		kind, version, err := operator.HandleKind([]byte(tt.handle))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "decode handle: ") {
				t.Errorf("HandleKind(%s) = %q, %d, %v; want an error containing %q", tt.handle, kind, version, err, tt.wantErr)
			}
			continue
		}
		if err != nil || kind != tt.kind || version != tt.version {
			t.Errorf("HandleKind(%s) = %q, %d, %v; want %q, %d", tt.handle, kind, version, err, tt.kind, tt.version)
		}
	}
}

// TestRegistryDispatchesByKind: the built-in registry holds one owner per
// handle kind: the process package for "process" (whichever of bash,
// python or an old spark_submit stored it), the Spark recoverer for the
// Spark kinds; no one for an unknown kind.
func TestRegistryDispatchesByKind(t *testing.T) {
	t.Parallel()
	r := all.Registry()
	if err := r.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	tests := []struct {
		handle string
		want   operator.Recoverer
	}{
		{handle: `{"kind":"process","version":1,"pid":42,"pgid":42}`, want: process.Recoverer{}},
		{handle: `{"pid":42,"pgid":42}`, want: process.Recoverer{}},
		{handle: `{"kind":"spark_driver","driver_id":"d"}`, want: spark.Recoverer{}},
		{handle: `{"kind":"spark_submitting","submission":"t"}`, want: spark.Recoverer{}},
	}
	for _, tt := range tests {
		rec, _, err := r.RecovererOf([]byte(tt.handle))
		if err != nil || rec != tt.want {
			t.Errorf("RecovererOf(%s) = %T, %v; want %T", tt.handle, rec, err, tt.want)
		}
	}
	if _, kind, err := r.RecovererOf([]byte(`{"kind":"pod","version":1}`)); err == nil || kind != "pod" || !strings.Contains(err.Error(), `no operator owns handles of kind "pod"`) {
		t.Errorf("an unknown kind: kind %q, err %v; want the kind and an error naming it", kind, err)
	}
	if _, ok := r.Recoverer("pod"); ok {
		t.Error("Recoverer found an owner for an unknown kind")
	}
}

// otherRecoverer claims the process kind with a type of its own.
type otherRecoverer struct{ process.Recoverer }

// TestRegistryCheck: two operators claiming a kind with recoverers of
// different types, an empty kind, and a default of the wrong type are
// all reported at once.
func TestRegistryCheck(t *testing.T) {
	t.Parallel()
	r := all.Registry()
	r["rival"] = operator.Factory{Spec: dag.OperatorSpec{Name: "rival"}, New: r["bash"].New, Recoverer: otherRecoverer{}}
	r["blank"] = operator.Factory{Spec: dag.OperatorSpec{Name: "blank"}, New: r["bash"].New, Recoverer: blankKind{}}
	r["typo"] = operator.Factory{Spec: dag.OperatorSpec{Name: "typo", Fields: []dag.FieldSpec{
		{Name: "poll", Kind: dag.FieldDuration, Default: "500ms"},
	}}, New: r["bash"].New}
	err := r.Check()
	for _, want := range []string{`handle kind "process" is claimed by operators`, "operator blank: a recoverer declares an empty handle kind",
		"operator typo: field poll: default 500ms is a string, not a duration"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v, want it to say %q", err, want)
		}
	}
}

type blankKind struct{ process.Recoverer }

func (blankKind) HandleKinds() []string { return []string{""} }

// The recoverers of the built-in operators are Recoverers.
var (
	_ operator.Recoverer = process.Recoverer{}
	_ operator.Recoverer = spark.Recoverer{}
)
