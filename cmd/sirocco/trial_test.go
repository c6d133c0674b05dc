package main

// Tests of what a new user's trial of Sirocco found, across processes as
// the user met it.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestRestartAfterACleanStopRecoversNothing: after SIGTERM (`sirocco
// stopped` logged) the next start does not say "previous worker is gone;
// its tries will be recovered", as it does after kill -9.
func TestRestartAfterACleanStopRecoversNothing(t *testing.T) {
	const recovery = "previous worker is gone; its tries will be recovered"
	for _, tc := range []struct {
		name      string
		stop      func(*server)
		recovered bool
	}{
		{"SIGTERM", (*server).stop, false},
		{"kill -9", (*server).kill9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, nil)
			first := s.startServer()
			tc.stop(first)
			if stopped := strings.Contains(first.log.String(), "sirocco stopped"); stopped == tc.recovered {
				t.Fatalf("precondition: `sirocco stopped` logged is %v after %s:\n%s", stopped, tc.name, first.log)
			}
			second := s.startServer()
			second.stop() // its recovery has ended when it has stopped
			if got := strings.Contains(second.log.String(), recovery); got != tc.recovered {
				t.Errorf("after %s, the next start logs %q: %v, want %v\n%s", tc.name, recovery, got, tc.recovered, second.log)
			}
		})
	}
}

// TestTriggerSaysTheSchedulerHasNotLoadedTheDAG: a user changed
// dags_folder in sirocco.yaml while standalone ran. The CLI reads the new
// folder, the running scheduler keeps the old one: `dags trigger` of a DAG
// only the new folder has warns at once that the scheduler has not loaded
// it and to restart it, and `--wait` says so again when the run stays
// queued (it sat at "[0/1] queued" with no word); a DAG the scheduler
// loaded from the old folder's file is named with both files. A DAG the
// scheduler runs from the same file gets no warning.
func TestTriggerSaysTheSchedulerHasNotLoadedTheDAG(t *testing.T) {
	const dagA = "dag_id: a\ntasks:\n  - {id: t, operator: empty}\n"
	s := newSite(t, map[string]string{"a.yaml": dagA})
	settings := filepath.Join(s.home, "sirocco.yaml")
	writeFile(t, settings, "dags_folder: "+s.dags+"\n")
	s.startServer()
	waitRecorded(t, s.home, "a")

	// sirocco.yaml decides, as for the user (s.env() sets the folder).
	cli := func(args ...string) *exec.Cmd {
		c := exec.Command(binary, args...)
		for _, kv := range s.env() {
			if !strings.HasPrefix(kv, "SIROCCO_DAGS_FOLDER=") {
				c.Env = append(c.Env, kv)
			}
		}
		return c
	}
	out, err := cli("dags", "trigger", "a", "--run-id", "same", "--wait").CombinedOutput()
	if err != nil || strings.Contains(string(out), "Warning") || strings.Contains(string(out), "Hint") {
		t.Fatalf("a DAG the scheduler loaded from the same file: %v, want success and no warning\n%s", err, out)
	}

	moved := t.TempDir()
	writeFile(t, filepath.Join(moved, "a.yaml"), dagA)
	writeFile(t, filepath.Join(moved, "k8s_trial.yaml"), "dag_id: k8s_trial\ntasks:\n  - {id: t, operator: empty}\n")
	writeFile(t, settings, "dags_folder: "+moved+"\n")

	wait := cli("dags", "trigger", "k8s_trial", "--run-id", "new", "--wait")
	var stdout, stderr testenv.SyncBuffer
	wait.Stdout, wait.Stderr = &stdout, &stderr
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wait.Process.Kill(); _ = wait.Wait() })
	testenv.Eventually(t, "--wait to say why the run stays queued", time.Minute, func() (bool, string) {
		return strings.Contains(stderr.String(), "Hint: run new is still queued after"), stdout.String() + stderr.String()
	})
	for _, want := range []string{
		"Warning: no scheduler has recorded DAG k8s_trial (" + filepath.Join(moved, "k8s_trial.yaml") + "): the running scheduler has not loaded it",
		"restart it after changing dags_folder",
		"none of its tasks has started: no scheduler has recorded DAG k8s_trial", "restart the scheduler (see the warning above)",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dags trigger --wait of a DAG only the new folder has: stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "[0/1] queued") {
		t.Errorf("precondition: the run should stay queued:\n%s", stdout.String())
	}

	trigger := cli("dags", "trigger", "a", "--run-id", "moved")
	var errOut strings.Builder
	trigger.Stderr = &errOut
	if err := trigger.Run(); err != nil {
		t.Fatalf("dags trigger a: %v\n%s", err, errOut.String())
	}
	want := "Warning: the scheduler recorded DAG a from " + filepath.Join(s.dags, "a.yaml") + ", parsed "
	if !strings.Contains(errOut.String(), want) || !strings.Contains(errOut.String(), "not from "+filepath.Join(moved, "a.yaml")) {
		t.Errorf("dags trigger of a DAG the scheduler has from its old file: stderr lacks %q and the new file:\n%s", want, errOut.String())
	}
}

// waitRecorded waits until the scheduler of home has recorded dagID in the
// store: a trigger before that finds no record, rightly.
func waitRecorded(t *testing.T, home, dagID string) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(home, "sirocco.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testenv.Eventually(t, "the scheduler to record DAG "+dagID, time.Minute, func() (bool, string) {
		_, err := st.GetDAG(t.Context(), dagID)
		return err == nil, fmt.Sprint(err)
	})
}
