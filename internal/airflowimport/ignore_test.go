package airflowimport

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAirflowIgnore: the files and folders an .airflowignore excludes
// (a regular expression as in Airflow 2, a glob as in Airflow 3) are not
// converted, and the report says which line skipped them.
func TestAirflowIgnore(t *testing.T) {
	dir := t.TempDir()
	dagFile := func(id string) string {
		return "from airflow import DAG\nfrom airflow.operators.empty import EmptyOperator\n" +
			"with DAG('" + id + "', schedule=None):\n    EmptyOperator(task_id='a')\n"
	}
	files := map[string]string{
		".airflowignore":     "# old things\n^skip_\narchive\n",
		"keep.py":            dagFile("keep"),
		"skip_me.py":         dagFile("skip_me"),
		"archive/x.py":       dagFile("archived"),
		"sub/.airflowignore": "*_old.py\n",
		"sub/y.py":           dagFile("y"),
		"sub/y_old.py":       dagFile("y_old"),
		"other/z_old.py":     dagFile("z_old"), // sub's rules are sub's only
		"sub/deep/w_old.py":  dagFile("w_old"),
		"sub/deep/kept_2.py": dagFile("kept_2"),
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, _, report := importInto(t, dir)
	var got []string
	for _, f := range res.Files {
		for _, d := range f.DAGs {
			got = append(got, d.DagID)
		}
	}
	slices.Sort(got)
	if want := []string{"keep", "kept_2", "y", "z_old"}; !slices.Equal(got, want) {
		t.Errorf("converted %v, want %v\n%s", got, want, report)
	}
	for _, want := range []string{"skip_me.py: skipped, ignored by " + filepath.Join(dir, ".airflowignore") + " (^skip_)",
		"archive: skipped, ignored by", "sub/y_old.py: skipped, ignored by " + filepath.Join(dir, "sub", ".airflowignore") + " (*_old.py)",
		"sub/deep/w_old.py: skipped"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestSymlinkedFolders: a link to a folder is searched, as Airflow follows
// links; a folder reached twice (a loop) is searched once and said so.
func TestSymlinkedFolders(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	dagFile := func(id string) []byte {
		return []byte("from airflow import DAG\nfrom airflow.operators.empty import EmptyOperator\n" +
			"with DAG('" + id + "', schedule=None):\n    EmptyOperator(task_id='a')\n")
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "shared.py"), dagFile("shared"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.py"), dagFile("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"team": elsewhere, "loop": dir} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	res, _, report := importInto(t, dir)
	var got []string
	for _, f := range res.Files {
		for _, d := range f.DAGs {
			got = append(got, d.DagID)
		}
	}
	slices.Sort(got)
	if want := []string{"local", "shared"}; !slices.Equal(got, want) || res.Failed() != 0 {
		t.Errorf("converted %v, want %v\n%s", got, want, report)
	}
	if !strings.Contains(report, "loop: skipped, a link to a folder already searched") {
		t.Errorf("report lacks the loop:\n%s", report)
	}
}
