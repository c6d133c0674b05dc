package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/api"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

const (
	storedSecret = "pw-Stored-Secret-81"
	extraSecret  = "tok-Extra-Secret-27"
	envSecret    = "pw-Env-Secret-55"
	varSecret    = "var-Secret-Value-93"
)

// TestConnectionsNeverLeakSecrets lists and reads connections from the
// database and the environment: no answer carries a password or a secret
// extra, in any form.
func TestConnectionsNeverLeakSecrets(t *testing.T) {
	env := []string{"SIROCCO_CONN_EDGE=ssh://spark:" + envSecret + "@edge.example:22?key_file=%2Fhome%2Fk",
		"SIROCCO_CONN_SPARK_CLUSTER=spark://127.0.0.1:7077?deploy_mode=cluster"}
	s := newSite(t, nil, func(o *api.Options) { o.Environ = func() []string { return env } })
	r := &connection.Resolver{Store: s.st, Keys: s.keys}
	for _, c := range []connection.Connection{
		{ID: "spark_cluster", Type: "spark", Host: "10.0.0.1", Port: 7077, Password: storedSecret}, // shadowed by the env
		{ID: "warehouse", Type: "postgres", Host: "db.example", Port: 5432, Login: "etl", Password: storedSecret, Schema: "dw",
			Description: "the warehouse", Extra: map[string]string{"sslmode": "require", "api_token": extraSecret,
				"options": `{"nested": {"password": "` + extraSecret + `"}}`}},
	} {
		if err := r.Add(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []response
	lr := s.do("GET", "/api/v1/connections", nil)
	bodies = append(bodies, lr)
	conns, total := list(t, lr.json(t), "connections")
	if total != 3 || ids(conns, "connection_id") != "edge,spark_cluster,warehouse" {
		t.Fatalf("connections = %s (%d)", ids(conns, "connection_id"), total)
	}
	if conns[1]["source"] != "env" || conns[1]["host"] != "127.0.0.1" {
		t.Errorf("the environment must win over the store: %v", conns[1])
	}
	if _, has := conns[2]["extra"]; has {
		t.Errorf("a listing has no extras, as Airflow's: %v", conns[2])
	}
	for _, id := range []string{"edge", "spark_cluster", "warehouse"} {
		bodies = append(bodies, s.do("GET", "/api/v1/connections/"+id, nil))
	}
	wh := bodies[3].json(t)
	if wh["login"] != "etl" || wh["port"] != float64(5432) || wh["schema"] != "dw" || wh["description"] != "the warehouse" ||
		!strings.Contains(wh["extra"].(string), `"sslmode":"require"`) || !strings.Contains(wh["extra"].(string), `"api_token":"***"`) {
		t.Errorf("warehouse = %v", wh)
	}
	for _, b := range bodies {
		if b.status != http.StatusOK {
			t.Errorf("status %d: %s", b.status, b.body)
		}
		for _, secret := range []string{storedSecret, extraSecret, envSecret} {
			if strings.Contains(string(b.body), secret) {
				t.Errorf("an answer leaks %q:\n%s", secret, b.body)
			}
		}
		if strings.Contains(string(b.body), `"password"`) && !strings.Contains(string(b.body), `\"password\":\"***\"`) {
			t.Errorf("an answer has a password field:\n%s", b.body)
		}
	}
	wantProblem(t, "unknown connection", s.do("GET", "/api/v1/connections/nope", nil), http.StatusNotFound, "nope")
	wantProblem(t, "bad id", s.do("GET", "/api/v1/connections/a%20b", nil), http.StatusBadRequest, "connection_id")
}

func TestVariablesHideSecretLookingValues(t *testing.T) {
	s := newSite(t, nil)
	for _, v := range []store.Variable{{Key: "greeting", Value: "hello", Description: "said first"}, {Key: "s3_secret_key", Value: varSecret}} {
		if err := s.st.SetVariable(t.Context(), v); err != nil {
			t.Fatal(err)
		}
	}
	lr := s.do("GET", "/api/v1/variables", nil)
	vars, total := list(t, lr.json(t), "variables")
	if total != 2 || ids(vars, "key") != "greeting,s3_secret_key" || vars[0]["value"] != "hello" || vars[0]["description"] != "said first" ||
		vars[1]["value"] != "***" {
		t.Errorf("variables = %v", vars)
	}
	one := s.do("GET", "/api/v1/variables/s3_secret_key", nil)
	for _, b := range []response{lr, one} {
		if strings.Contains(string(b.body), varSecret) {
			t.Errorf("a secret variable leaks:\n%s", b.body)
		}
	}
	if v := s.get("/api/v1/variables/greeting"); v["value"] != "hello" {
		t.Errorf("greeting = %v", v)
	}
	if _, total := list(t, s.get("/api/v1/variables?limit=1"), "variables"); total != 2 {
		t.Errorf("total with limit=1: %d", total)
	}
	wantProblem(t, "unknown variable", s.do("GET", "/api/v1/variables/nope", nil), http.StatusNotFound, "nope")
}

func TestPools(t *testing.T) {
	s := newSite(t, map[string]string{"sparky.yaml": sparkYAML})
	if err := s.st.SetPool(t.Context(), store.Pool{Name: "spark", Slots: 3, Description: "cluster slots"}); err != nil {
		t.Fatal(err)
	}
	s.createRun("sparky", "r", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), map[string]store.TaskState{
		"prep": store.StateRunning, "job": store.StateQueued})
	pools, total := list(t, s.get("/api/v1/pools"), "pools")
	if total != 2 || ids(pools, "name") != "default_pool,spark" {
		t.Fatalf("pools = %v", pools)
	}
	def := pools[0]
	if def["slots"] != float64(128) || def["running_slots"] != float64(1) || def["queued_slots"] != float64(1) ||
		def["occupied_slots"] != float64(2) || def["open_slots"] != float64(126) {
		t.Errorf("default_pool = %v", def)
	}
	if p := s.get("/api/v1/pools/spark"); p["slots"] != float64(3) || p["open_slots"] != float64(3) || p["description"] != "cluster slots" {
		t.Errorf("spark pool = %v", p)
	}
	wantProblem(t, "unknown pool", s.do("GET", "/api/v1/pools/nope", nil), http.StatusNotFound, "nope")
}

func TestImportErrors(t *testing.T) {
	s := newSite(t, manyDAGs())
	errs, total := list(t, s.get("/api/v1/importErrors"), "import_errors")
	if total != 1 || !strings.HasSuffix(errs[0]["filename"].(string), "broken.yaml") || errs[0]["import_error_id"] != float64(1) ||
		!strings.Contains(errs[0]["stack_trace"].(string), `"comand"`) {
		t.Fatalf("import errors = %v", errs)
	}
	if one := s.get("/api/v1/importErrors/1"); one["filename"] != errs[0]["filename"] {
		t.Errorf("import error 1 = %v", one)
	}
	wantProblem(t, "past the end", s.do("GET", "/api/v1/importErrors/2", nil), http.StatusNotFound, "2")
	wantProblem(t, "not a number", s.do("GET", "/api/v1/importErrors/x", nil), http.StatusBadRequest, "import_error_id")
}

func TestHealth(t *testing.T) {
	s := newSite(t, nil)
	for _, path := range []string{"/health", "/api/v1/health"} {
		h := s.get(path)
		db, _ := h["metadatabase"].(map[string]any)
		sched, _ := h["scheduler"].(map[string]any)
		if db["status"] != "healthy" || sched["status"] != "healthy" || sched["started_at"] == nil {
			t.Errorf("%s = %v", path, h)
		}
	}

	// An API server without a scheduler judges the executors' heartbeats.
	api2 := newSite(t, nil, func(o *api.Options) { o.SchedulerInProcess = false })
	if sched := api2.get("/health")["scheduler"].(map[string]any); sched["status"] != "unhealthy" || sched["latest_scheduler_heartbeat"] != nil {
		t.Errorf("no scheduler ever: %v", sched)
	}
	now := time.Now().UTC()
	if err := api2.st.RegisterWorker(t.Context(), store.Worker{ID: "w", Kind: "local", Hostname: "h", StartedAt: now, HeartbeatAt: now}); err != nil {
		t.Fatal(err)
	}
	if sched := api2.get("/health")["scheduler"].(map[string]any); sched["status"] != "healthy" || sched["latest_scheduler_heartbeat"] == nil {
		t.Errorf("a fresh heartbeat: %v", sched)
	}

	// Its age is reported, in a standalone too; past zombie_threshold the
	// API server's scheduler is unhealthy.
	old := now.Add(-10 * time.Minute)
	if err := api2.st.RegisterWorker(t.Context(), store.Worker{ID: "w", Kind: "local", Hostname: "h", StartedAt: old, HeartbeatAt: old}); err != nil {
		t.Fatal(err)
	}
	sched := api2.get("/health")["scheduler"].(map[string]any)
	if age, _ := sched["heartbeat_age_seconds"].(float64); sched["status"] != "unhealthy" || age < 599 || age > 3600 {
		t.Errorf("a 10-minute-old heartbeat: %v", sched)
	}
	standalone := newSite(t, nil)
	if err := standalone.st.RegisterWorker(t.Context(), store.Worker{ID: "w", Kind: "local", Hostname: "h", StartedAt: now, HeartbeatAt: now}); err != nil {
		t.Fatal(err)
	}
	sched = standalone.get("/health")["scheduler"].(map[string]any)
	if age, ok := sched["heartbeat_age_seconds"].(float64); sched["status"] != "healthy" || !ok || age < 0 || age > 60 {
		t.Errorf("standalone with a fresh heartbeat: %v", sched)
	}
}
