package dag

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Parse: it must never panic, and it must
// return either a complete DAG or only *FileError problems, never both or
// neither.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.y*ml")
	nested, _ := filepath.Glob("testdata/*/*/*.y*ml")
	for _, path := range append(files, nested...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("dag_id: x\ntasks: [{id: a, operator: empty, depends_on: [a]}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {dag_id: x}\ntasks: [{<<: [{id: a}, {operator: empty}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data, testOpts)
		if (d == nil) == (err == nil) {
			t.Fatalf("Parse returned DAG %v and error %v", d, err)
		}
		if err != nil {
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				t.Fatalf("error %T is not a join", err)
			}
			for _, e := range joined.Unwrap() {
				if _, ok := e.(*FileError); !ok { //nolint:errorlint // each joined error must be a *FileError itself
					t.Fatalf("error %T (%v) is not a *FileError", e, e)
				}
			}
			return
		}
		if d.ID == "" || d.Schedule == nil || d.Timezone == nil || len(d.Tasks) == 0 || d.MaxActiveRuns < 1 {
			t.Fatalf("incomplete DAG %+v", d)
		}
		for _, tk := range d.Tasks {
			if d.Task(tk.ID) != tk || tk.Operator == "" || tk.Args == nil || tk.Env == nil || tk.PoolSlots < 1 {
				t.Fatalf("incomplete task %+v", tk)
			}
		}
		if _, err := d.ResolveParams(nil); err != nil && len(d.Params) == 0 {
			t.Fatalf("ResolveParams without params: %v", err)
		}
	})
}
