package engine

import (
	"context"

	"fmt"
	"github.com/sirocco-dev/sirocco/internal/actions"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// sensorsDAG pokes a file an unrelated task creates after a while, in
// poke and reschedule mode, and times out with and without soft_fail.
const sensorsDAG = `
dag_id: sensors
params: {dir: {type: string, default: ""}}
default_args: {retries: 2, retry_delay: 1s}
tasks:
  - {id: make, operator: bash, command: 'sleep 2; touch "{{ params.dir }}/ready"'}
  - {id: wait_poke, operator: file_sensor, filepath: "{{ params.dir }}/ready", poke_interval: 200ms}
  - {id: wait_resched, operator: file_sensor, filepath: "{{ params.dir }}/re*", poke_interval: 300ms, mode: reschedule}
  - {id: after, operator: bash, depends_on: [wait_poke, wait_resched], command: echo after}
  - {id: never, operator: bash_sensor, command: 'exit 3', poke_interval: 200ms, timeout: 1s}
  - {id: never_soft, operator: bash_sensor, command: 'false', poke_interval: 200ms, timeout: 1s, mode: reschedule, soft_fail: true}
  - {id: below_never, operator: empty, depends_on: [never]}
  - {id: when, operator: date_time_sensor, target_time: "{{ data_interval_end }}", poke_interval: 100ms}
`

// TestSensorsOnBothStores runs sensors through the scheduler and the
// local executor: poke mode waits inside its try; reschedule mode ends
// each poke up_for_reschedule and pokes again without a new try; a
// timeout fails without spending a retry, or skips with soft_fail.
func TestSensorsOnBothStores(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"sensors": sensorsDAG})
		dir := t.TempDir()
		runID := h.trigger("sensors", map[string]any{"dir": dir})
		// The reschedule-mode sensor waits without a slot at some point.
		var waiting store.TaskInstance
		testenv.Eventually(t, "wait_resched up_for_reschedule", 20*time.Second, func() (bool, string) {
			waiting = h.tis("sensors", runID)["wait_resched"]
			return waiting.State == store.StateUpForReschedule, h.states("sensors", runID)
		})
		if waiting.TryNumber != 1 || waiting.Pokes < 1 || waiting.FirstPokeAt.IsZero() || waiting.NextRetryAt.IsZero() {
			t.Errorf("wait_resched waits at try %d, %d pokes from %v, next at %v; want try 1 and its progress",
				waiting.TryNumber, waiting.Pokes, waiting.FirstPokeAt, waiting.NextRetryAt)
		}
		if run := h.waitRun("sensors", runID); run.State != store.RunFailed {
			t.Fatalf("run %s, want failed (never times out): %s", run.State, h.states("sensors", runID))
		}
		const (
			S  = store.StateSuccess
			F  = store.StateFailed
			K  = store.StateSkipped
			UF = store.StateUpstreamFailed
		)
		h.wantStates("sensors", runID, map[string]store.TaskState{"make": S, "wait_poke": S, "wait_resched": S, "after": S,
			"never": F, "never_soft": K, "below_never": UF, "when": S})
		tis := h.tis("sensors", runID)
		for _, id := range []string{"wait_poke", "wait_resched", "never", "never_soft"} {
			if tis[id].TryNumber != 1 {
				t.Errorf("%s ended at try %d, want 1 (a reschedule and a sensor's timeout spend no try)", id, tis[id].TryNumber)
			}
			if tis[id].Pokes != 0 || !tis[id].FirstPokeAt.IsZero() {
				t.Errorf("%s keeps its progress after its end: %d pokes from %v", id, tis[id].Pokes, tis[id].FirstPokeAt)
			}
		}
		resched := h.log("sensors", runID, "wait_resched", 1)
		if n := strings.Count(resched, "sirocco: starting try 1 "); n < 2 {
			t.Errorf("wait_resched started %d pokes in try 1's log, want several:\n%s", n, resched)
		}
		if !strings.Contains(resched, "sirocco: not yet: rescheduled to") {
			t.Errorf("wait_resched's log does not say it was rescheduled:\n%s", resched)
		}
		if poke := h.log("sensors", runID, "wait_poke", 1); !strings.Contains(poke, "next poke in 200ms") {
			t.Errorf("wait_poke's log does not show its pokes:\n%s", poke)
		}
		if log := h.log("sensors", runID, "never", 1); !strings.Contains(log, "sensor timed out") {
			t.Errorf("never's log does not say it timed out:\n%s", log)
		}
		if log := h.log("sensors", runID, "never_soft", 1); !strings.Contains(log, "(soft_fail)") {
			t.Errorf("never_soft's log does not say it was skipped by soft_fail:\n%s", log)
		}
	})
}

// externalDAGs: a watcher waits for a task of another DAG's run of the
// same logical date, for the whole run of the day before, and fails when
// the task it watches fails.
const (
	producerDAG = `
dag_id: producer
params: {fail: {type: boolean, default: false}}
tasks:
  - {id: produce, operator: bash, command: 'sleep 1; test "{{ params.fail }}" != True'}
`
	watcherDAG = `
dag_id: watcher
tasks:
  - {id: task_done, operator: external_task_sensor, external_dag_id: producer, external_task_id: produce,
     poke_interval: 200ms, mode: reschedule, failed_states: [failed, upstream_failed], timeout: 20s}
  - {id: yesterday, operator: external_task_sensor, external_dag_id: producer, execution_delta: 24h,
     poke_interval: 200ms, timeout: 20s}
`
)

// TestExternalTaskSensorAcrossDAGs: the sensor reads the store for the
// other DAG's run with the matching logical date.
func TestExternalTaskSensorAcrossDAGs(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"producer": producerDAG, "watcher": watcherDAG})
		day := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
		watch := h.triggerAt("watcher", nil, day)
		h.triggerAt("producer", nil, day.Add(-24*time.Hour))
		h.triggerAt("producer", nil, day)
		if run := h.waitRun("watcher", watch); run.State != store.RunSuccess {
			t.Fatalf("watcher %s: %s", run.State, h.states("watcher", watch))
		}
		if log := h.log("watcher", watch, "task_done", 1); !strings.Contains(log, "sensor: poking for produce of producer at 2026-02-03T00:00:00Z") {
			t.Errorf("task_done's log:\n%s", log)
		}

		// The watched task fails: the sensor fails (a retry would not mend it).
		next := day.Add(48 * time.Hour)
		watch = h.triggerAt("watcher", nil, next)
		h.triggerAt("producer", map[string]any{"fail": true}, next)
		if run := h.waitRun("watcher", watch); run.State != store.RunFailed {
			t.Fatalf("watcher %s: %s", run.State, h.states("watcher", watch))
		}
		h.wantStates("watcher", watch, map[string]store.TaskState{"task_done": store.StateFailed})
		if log := h.log("watcher", watch, "task_done", 1); !strings.Contains(log, "task produce of producer at 2026-02-05T00:00:00Z is failed (failed_states)") {
			t.Errorf("task_done's log:\n%s", log)
		}
	})
}

// TestHTTPSensor: the sensor polls a real server until its answer passes
// response_check; refused answers (503, a body that does not match) mean
// not yet.
func TestHTTPSensor(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case n == 1:
			w.WriteHeader(http.StatusNotFound) // not yet, as Airflow's HttpSensor; another error status fails
		case n == 2:
			fmt.Fprint(w, `{"status": "starting"}`)
		default:
			fmt.Fprint(w, `{"status": "ready"}`)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("SIROCCO_CONN_STATUS_API", srv.URL)
	h := start(t, map[string]string{"http": `
dag_id: http_wait
tasks:
  - id: ready
    operator: http_sensor
    http_conn_id: status_api
    endpoint: /status
    response_check: {json_path: $.status, equals: ready}
    poke_interval: 100ms
    mode: reschedule
`})
	runID := h.trigger("http_wait", nil)
	if run := h.waitRun("http_wait", runID); run.State != store.RunSuccess {
		t.Fatalf("run %s: %s\n%s", run.State, h.states("http_wait", runID), h.log("http_wait", runID, "ready", 1))
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// TestRescheduleSensorSurvivesARestart: Sirocco stops while sensors are
// up_for_reschedule; the next start on the same database pokes them again
// in the same try, and a timeout still counts from the first poke before
// the restart: the sensor whose timeout passed while Sirocco was down
// fails at its first poke after the restart, its poke count going on.
func TestRescheduleSensorSurvivesARestart(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url, files := dbURL(), t.TempDir()
		const timeout = 3 * time.Second
		dags := map[string]string{"restart": fmt.Sprintf(`
dag_id: restart
tasks:
  - {id: gives_up, operator: bash_sensor, command: 'test -e %[1]s/never', mode: reschedule, poke_interval: 500ms, timeout: %[2]s}
  - {id: finds, operator: file_sensor, filepath: %[1]s/later, mode: reschedule, poke_interval: 500ms}
`, files, timeout)}
		first := startOn(t, url, dags)
		runID := first.trigger("restart", nil)
		testenv.Eventually(t, "two pokes of gives_up", 20*time.Second, func() (bool, string) {
			ti := first.tis("restart", runID)["gives_up"]
			return ti.State == store.StateUpForReschedule && ti.Pokes >= 2, first.states("restart", runID)
		})
		first.stop()
		before := storedTI(t, url, store.TaskKey{DagID: "restart", RunID: runID, TaskID: "gives_up"})
		if before.State != store.StateUpForReschedule || before.TryNumber != 1 || before.FirstPokeAt.IsZero() {
			t.Fatalf("gives_up after the stop: %s at try %d, first poke %v", before.State, before.TryNumber, before.FirstPokeAt)
		}
		// Sirocco stays down until gives_up's timeout has passed.
		time.Sleep(time.Until(before.FirstPokeAt.Add(timeout + 500*time.Millisecond)))
		if err := os.WriteFile(filepath.Join(files, "later"), nil, 0o644); err != nil {
			t.Fatal(err)
		}

		second := startOn(t, url, dags)
		if run := second.waitRun("restart", runID); run.State != store.RunFailed {
			t.Fatalf("run %s: %s", run.State, second.states("restart", runID))
		}
		tis := second.tis("restart", runID)
		if tis["gives_up"].State != store.StateFailed || tis["finds"].State != store.StateSuccess {
			t.Fatalf("%s", second.states("restart", runID))
		}
		for id, ti := range tis {
			if ti.TryNumber != 1 {
				t.Errorf("%s ended at try %d, want 1: the restart resumed the try", id, ti.TryNumber)
			}
		}
		log := second.log("restart", runID, "gives_up", 1)
		m := regexp.MustCompile(`condition unmet after (\d+) pokes`).FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no timeout in the log after the restart:\n%s", log)
		}
		if n, _ := strconv.Atoi(m[1]); n != before.Pokes+1 {
			t.Errorf("%d pokes in all, want the %d before the restart and one more: its timeout or its count started again\n%s",
				n, before.Pokes, log)
		}
	})
}

// storedTI reads a task instance from the database at url, with no
// engine running.
func storedTI(t *testing.T, url string, k store.TaskKey) store.TaskInstance {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ti, err := st.GetTaskInstance(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

// TestSensorsExample runs the shipped examples/dags/sensors.yaml as it
// is (its flag file moved to the test's folder).
func TestSensorsExample(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", "sensors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, map[string]string{"sensors": string(body)})
	flag := filepath.Join(t.TempDir(), "flag")
	runID := h.triggerAt("sensors", map[string]any{"flag": flag}, time.Now().UTC())
	if run := h.waitRunWithin("sensors", runID, time.Minute); run.State != store.RunSuccess {
		t.Fatalf("run %s (%s)", run.State, h.states("sensors", runID))
	}
	tis := h.tis("sensors", runID)
	for id, ti := range tis {
		if ti.State != store.StateSuccess || ti.TryNumber != 1 {
			t.Errorf("%s: %s at try %d, want success at try 1", id, ti.State, ti.TryNumber)
		}
	}
	if log := h.log("sensors", runID, "cool_down", 1); strings.Count(log, "sirocco: starting try 1 ") < 2 {
		t.Errorf("cool_down did not reschedule:\n%s", log)
	}
	if log := h.log("sensors", runID, "report", 1); !strings.Contains(log, "ready at") {
		t.Errorf("report's log:\n%s", log)
	}
	if _, err := os.Stat(flag); !os.IsNotExist(err) {
		t.Errorf("the flag file is left: %v", err)
	}
}

// TestClearARunningSensorStartsItAgain: a reschedule-mode sensor cleared
// while it pokes is handed back with its progress gone: its next try is
// counted and its timeout starts from that try's first poke.
func TestClearARunningSensorStartsItAgain(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"slow": `
dag_id: slow
tasks:
  - {id: s, operator: bash_sensor, command: 'sleep 1; false', mode: reschedule, poke_interval: 100ms}
`})
		runID := h.trigger("slow", nil)
		testenv.Eventually(t, "s's second poke to run", 20*time.Second, func() (bool, string) {
			ti := h.tis("slow", runID)["s"]
			return ti.State == store.StateRunning && ti.Pokes >= 1, h.states("slow", runID)
		})
		cleared := time.Now().UTC()
		res, err := actions.Clear(context.Background(), h.st, h.eng.Bag.DAGs()["slow"],
			actions.ClearRequest{RunID: runID, TaskIDs: []string{"s"}}, cleared)
		if err != nil || res.Restarting != 1 {
			t.Fatalf("clear: %+v, %v", res, err)
		}
		h.eng.Loop.Kick()
		var ti store.TaskInstance
		testenv.Eventually(t, "s's new try to wait", 20*time.Second, func() (bool, string) {
			ti = h.tis("slow", runID)["s"]
			return ti.TryNumber == 2 && ti.State == store.StateUpForReschedule, h.states("slow", runID)
		})
		if ti.FirstPokeAt.Before(cleared) {
			t.Errorf("the new try's first poke is %v, before the clear at %v: the cleared try's progress was kept", ti.FirstPokeAt, cleared)
		}
	})
}
