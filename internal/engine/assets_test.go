package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/store/sqlstore"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

const (
	assetProducerOne = `
dag_id: producer_one
tasks:
  - id: write
    operator: bash
    command: echo wrote
    outlets: ["s3://b/one", {uri: "s3://b/two", extra: {k: static}}]
`
	assetProducerTwo = `
dag_id: producer_two
tasks:
  - {id: write, operator: bash, command: echo wrote, outlets: ["s3://b/one"]}
`
	assetProducerFails = `
dag_id: producer_fails
tasks:
  - {id: write, operator: bash, command: exit 3, outlets: ["s3://b/one", "s3://b/two", "s3://b/three"]}
`
	assetConsumerAll = `
dag_id: consumer_all
schedule: ["s3://b/one", "s3://b/two"]
tasks:
  - id: read
    operator: bash
    command: echo "{{ triggering_asset_events['s3://b/one'] | length }} {{ triggering_asset_events['s3://b/two'][0].extra.k }} {{ run_id[:17] }}"
`
	assetConsumerAny = `
dag_id: consumer_any
schedule: {assets: {any: ["s3://b/two", "s3://b/three"]}}
tasks:
  - {id: read, operator: bash, command: "echo {{ triggering_asset_events | length }}"}
`
)

// assetRuns returns the runs of a DAG, waiting until there are n and all
// of them finished.
func (h *harness) assetRuns(dagID string, n int) []store.DagRun {
	h.t.Helper()
	var runs []store.DagRun
	testenv.Eventually(h.t, dagID+" to have finished runs", 30*time.Second, func() (bool, string) {
		var err error
		runs, err = h.st.ListRuns(context.Background(), store.RunFilter{DagID: dagID})
		if err != nil {
			h.t.Fatal(err)
		}
		done := len(runs) >= n
		for _, r := range runs {
			done = done && r.State.Finished()
		}
		return done, describeRuns(runs)
	})
	if len(runs) != n {
		h.t.Fatalf("%s has %d runs, want %d: %s", dagID, len(runs), n, describeRuns(runs))
	}
	return runs
}

func describeRuns(runs []store.DagRun) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = r.RunID + " " + string(r.State)
	}
	return "runs: " + strings.Join(parts, ", ")
}

// assetEvents lists the events of an asset ("" for all), newest first.
func (h *harness) assetEvents(uri string) []store.AssetEvent {
	h.t.Helper()
	evs, err := h.st.ListAssetEvents(context.Background(), store.AssetEventFilter{URI: uri})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// TestAssetsTriggerConsumers: a failed producer records no event; two
// producers updating an asset before its consumer's condition holds give
// one consumer run that consumes all their events; all needs every asset,
// any one of them; templates read triggering_asset_events.
func TestAssetsTriggerConsumers(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"p1": assetProducerOne, "p2": assetProducerTwo, "pf": assetProducerFails,
			"all": assetConsumerAll, "any": assetConsumerAny})
		day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

		failed := h.triggerAt("producer_fails", nil, day(1))
		if run := h.waitRun("producer_fails", failed); run.State != store.RunFailed {
			t.Fatalf("producer_fails: %s", run.State)
		}
		for _, at := range []int{2, 3} { // one updated twice: all still waits for two
			id := h.triggerAt("producer_two", nil, day(at))
			if run := h.waitRun("producer_two", id); run.State != store.RunSuccess {
				t.Fatalf("producer_two: %s (%s)", run.State, h.states("producer_two", id))
			}
		}
		if evs := h.assetEvents(""); len(evs) != 2 || evs[0].SourceDagID != "producer_two" {
			t.Fatalf("events after the failure and two successes: %+v", evs)
		}
		id := h.triggerAt("producer_one", nil, day(4))
		if run := h.waitRun("producer_one", id); run.State != store.RunSuccess {
			t.Fatalf("producer_one: %s", run.State)
		}

		all := h.assetRuns("consumer_all", 1)[0]
		if all.State != store.RunSuccess || all.RunType != store.RunAssetTriggered {
			t.Fatalf("consumer_all's run: %+v (%s)", all, h.states("consumer_all", all.RunID))
		}
		h.wantXCom("consumer_all", all.RunID, "read", `"3 static asset_triggered__"`)
		used, err := h.st.RunAssetEvents(context.Background(), "consumer_all", all.RunID)
		if err != nil || len(used) != 4 {
			t.Errorf("consumer_all consumed %d events (%v), want 4", len(used), err)
		}
		anyRun := h.assetRuns("consumer_any", 1)[0]
		h.wantXCom("consumer_any", anyRun.RunID, "read", `"1"`)
		if q, err := h.st.AssetQueue(context.Background()); err != nil || len(q) != 0 {
			t.Errorf("queue after the runs: %+v, %v", q, err)
		}
		if !all.DataIntervalStart.Before(all.DataIntervalEnd) {
			t.Errorf("data interval %v - %v, want the first to the last event", all.DataIntervalStart, all.DataIntervalEnd)
		}
	})
}

const (
	assetPausedProducer = `
dag_id: producer
tasks:
  - {id: extra, operator: python, callable: "extra_mod:extra", multiple_outputs: true, outlets: ["file:///data/x", "file:///data/y"]}
`
	assetPausedConsumer = `
dag_id: consumer
schedule: ["file:///data/x"]
tasks:
  - {id: read, operator: bash, command: "echo '{{ triggering_asset_events[\'file:///data/x\'][0].extra | tojson }}'"}
`
	extraModule = `
def extra():
    return {"asset_extra": {"file:///data/x": {"rows": 7}, "file:///data/y": {"rows": 1}}}
`
)

// TestAssetsPausedConsumerAndRestart: a paused consumer is not queued
// for an event (Airflow 3), so once unpaused it does not run for what it
// missed; after a restart, two schedulers on the same database create
// exactly one run for the next event. The extra comes from the producer's
// asset_extra XCom, per outlet.
func TestAssetsPausedConsumerAndRestart(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		url := dbURL()
		dags := map[string]string{"producer": assetPausedProducer, "consumer": assetPausedConsumer}
		setPaused(t, url, "consumer", true)
		t.Run("paused", func(t *testing.T) {
			h := startOn(t, url, dags)
			if err := os.WriteFile(filepath.Join(h.cfg.DagsFolder, "extra_mod.py"), []byte(extraModule), 0o644); err != nil {
				t.Fatal(err)
			}
			id := h.trigger("producer", nil)
			if run := h.waitRun("producer", id); run.State != store.RunSuccess {
				t.Fatalf("producer: %s (%s)\n%s", run.State, h.states("producer", id), h.log("producer", id, "extra", 1))
			}
			q, err := h.st.AssetQueue(context.Background())
			if err != nil || len(q) != 0 {
				t.Fatalf("queued for the paused consumer: %+v, %v", q, err)
			}
			if runs, _ := h.st.ListRuns(context.Background(), store.RunFilter{DagID: "consumer"}); len(runs) != 0 {
				t.Fatalf("the paused consumer ran: %s", describeRuns(runs))
			}
			if evs := h.assetEvents("file:///data/y"); len(evs) != 1 || evs[0].Extra["rows"] != float64(1) {
				t.Errorf("events of y: %+v", evs)
			}
		})
		var hs [2]*harness
		var wg sync.WaitGroup
		for i := range hs {
			wg.Add(1)
			go func() { defer wg.Done(); hs[i] = startOn(t, url, dags) }()
		}
		wg.Wait()
		for _, h := range hs {
			if err := os.WriteFile(filepath.Join(h.cfg.DagsFolder, "extra_mod.py"), []byte(extraModule), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range hs { // both schedulers are past their start-up (and their Recover)
			testenv.Eventually(t, "the engine's worker to register", 30*time.Second, func() (bool, string) {
				ws, err := h.st.ListWorkers(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range ws {
					if w.ID == h.eng.Executor.ID() && !w.HeartbeatAt.IsZero() {
						return true, ""
					}
				}
				return false, "not registered"
			})
		}
		// Unpaused only now: a try started while the other engine still
		// recovers would look, in this one process, like a gone engine's.
		setPaused(t, url, "consumer", false)
		if q, err := hs[0].st.AssetQueue(context.Background()); err != nil || len(q) != 0 {
			t.Fatalf("queue once unpaused: %+v, %v", q, err)
		}
		id := hs[0].triggerAt("producer", nil, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		if run := hs[0].waitRun("producer", id); run.State != store.RunSuccess {
			t.Fatalf("producer again: %s (%s)", run.State, hs[0].states("producer", id))
		}
		run := hs[0].assetRuns("consumer", 1)[0]
		if run.State != store.RunSuccess {
			var logs []string
			for _, h := range hs { // the try ran under one engine's home
				b, _ := os.ReadFile(tasklog.Path(h.cfg.LogsDir(), "consumer", run.RunID, "read", 1))
				logs = append(logs, string(b))
			}
			t.Fatalf("consumer: %s (%s)\n%s", run.State, hs[0].states("consumer", run.RunID), strings.Join(logs, "\n"))
		}
		hs[0].wantXCom("consumer", run.RunID, "read", `"{\"rows\":7}"`)
		if q, _ := hs[1].st.AssetQueue(context.Background()); len(q) != 0 {
			t.Errorf("queue after the run: %+v", q)
		}
	})
}

// setPaused sets a DAG's pause flag in the database at url before or
// between engines.
func setPaused(t *testing.T, url, dagID string, paused bool) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertDAG(ctx, store.DAGRecord{DagID: dagID, Paused: paused}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPaused(ctx, dagID, paused); err != nil {
		t.Fatal(err)
	}
}

// TestAssetsExample runs the shipped examples/dags/assets_producer.yaml
// and assets_consumer.yaml: a run of the producer triggers the consumer,
// whose report reads the events it consumed.
func TestAssetsExample(t *testing.T) {
	dags := map[string]string{}
	for _, name := range []string{"assets_producer", "assets_consumer"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		dags[name] = string(body)
	}
	h := start(t, dags)
	id := h.trigger("assets_producer", nil)
	if run := h.waitRun("assets_producer", id); run.State != store.RunSuccess {
		t.Fatalf("producer: %s (%s)", run.State, h.states("assets_producer", id))
	}
	run := h.assetRuns("assets_consumer", 1)[0]
	if run.State != store.RunSuccess {
		t.Fatalf("consumer: %s\n%s", run.State, h.log("assets_consumer", run.RunID, "report", 1))
	}
	log := h.log("assets_consumer", run.RunID, "report", 1)
	for _, want := range []string{
		`file:///srv/warehouse/orders: 1 update(s), the last by assets_producer.refresh_orders {"format":"parquet"}`,
		`file:///srv/warehouse/customers: 1 update(s), the last by assets_producer.refresh_customers {}`,
		"2 asset(s) updated",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("report's log lacks %q:\n%s", want, log)
		}
	}
}

// TestAssetEventsWakeTheScheduler: with an hour's poll interval, a
// producer's success triggers its consumer at once (the loop wakes itself
// on the events it recorded), and so does an event recorded by hand
// through another handle on the database (`sirocco assets event`, an API
// server elsewhere): only the store's notification can have woken it.
func TestAssetEventsWakeTheScheduler(t *testing.T) {
	databases(t, func(t *testing.T, dbURL func() string) {
		h := startOn(t, dbURL(), map[string]string{"p": assetProducerTwo, "c": `
dag_id: consumer
schedule: ["s3://b/one"]
tasks:
  - {id: read, operator: bash, command: "true"}
`}, func(c *config.Config) { c.PollInterval = time.Hour })
		if run := h.waitRun("producer_two", h.trigger("producer_two", nil)); run.State != store.RunSuccess {
			t.Fatalf("producer: %s", run.State)
		}
		h.assetRuns("consumer", 1)

		other, err := sqlstore.Open(context.Background(), h.cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := actions.CreateAssetEvent(context.Background(), other, h.eng.Bag.DAGs(), "s3://b/one", nil, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		runs := h.assetRuns("consumer", 2)
		for _, r := range runs {
			if r.State != store.RunSuccess {
				t.Errorf("run %s: %s", r.RunID, r.State)
			}
		}
	})
}
