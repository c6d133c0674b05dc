package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// assetsSite is a Sirocco home whose DAGs folder holds the shipped asset
// examples; run runs the CLI in this process.
func assetsSite(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	if err := os.MkdirAll(dags, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"assets_producer.yaml", "assets_consumer.yaml"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "dags", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dags, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := "sqlite://" + filepath.Join(home, "sirocco.db")
	run := func(args ...string) (string, error) {
		var out testenv.SyncBuffer
		root := NewRoot(&out, &out)
		root.SetArgs(append([]string{"--home", home, "--dags", dags, "--database-url", db}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	if out, err := run("db", "migrate"); err != nil {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}
	return run
}

// TestAssetsCommands: dags validate and dags test run the examples; a
// test run of the producer records its events, which assets list and
// assets events show; assets event records one by hand.
func TestAssetsCommands(t *testing.T) {
	run := assetsSite(t)
	if out, err := run("dags", "validate"); err != nil {
		t.Fatalf("dags validate: %v\n%s", err, out)
	}
	list, err := run("assets", "list")
	if err != nil {
		t.Fatalf("assets list: %v\n%s", err, list)
	}
	if !strings.Contains(list, "file:///srv/warehouse/orders") || !strings.Contains(list, "assets_producer.refresh_orders") ||
		!strings.Contains(list, "x-sirocco://reference/regions") {
		t.Errorf("assets list before any event:\n%s", list)
	}
	if out, err := run("dags", "test", "assets_producer", "2026-03-04"); err != nil {
		t.Fatalf("dags test: %v\n%s", err, out)
	}
	out, err := run("-o", "json", "assets", "list")
	if err != nil {
		t.Fatalf("assets list: %v\n%s", err, out)
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("assets list -o json: %v\n%s", err, out)
	}
	byURI := map[string]map[string]any{}
	for _, r := range recs {
		byURI[r["uri"].(string)] = r
	}
	orders := byURI["file:///srv/warehouse/orders"]
	if orders["events"] != float64(1) || orders["consumers"] != "assets_consumer" || orders["producers"] != "assets_producer.refresh_orders" ||
		orders["readers"] != "assets_consumer.report,assets_producer.refresh_customers" || orders["last_event"] == "" {
		t.Errorf("orders: %v", orders)
	}
	if regions := byURI["x-sirocco://reference/regions"]; regions["events"] != float64(0) || regions["producers"] != "" {
		t.Errorf("regions: %v", regions)
	}

	if out, err := run("assets", "event", "X-Sirocco://reference/regions", "--extra", `{"by": "hand"}`); err != nil ||
		!strings.Contains(out, "recorded for x-sirocco://reference/regions") {
		t.Fatalf("assets event: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"assets", "event", "no-scheme"}, {"assets", "event", "s3://u:p@b/k"}, {"assets", "event", "s3://b", "--extra", "[1]"}} {
		if out, err := run(bad...); err == nil {
			t.Errorf("%v succeeded:\n%s", bad, out)
		}
	}
	events, err := run("assets", "events")
	if err != nil {
		t.Fatalf("assets events: %v\n%s", err, events)
	}
	lines := strings.Split(strings.TrimSpace(events), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "x-sirocco://reference/regions") || !strings.Contains(lines[1], `{"by":"hand"}`) ||
		!strings.Contains(lines[1], "manual") || !strings.Contains(events, "assets_producer/") || !strings.Contains(events, "refresh_orders (try 1)") {
		t.Errorf("assets events:\n%s", events)
	}
	one, err := run("assets", "events", "file:///srv/warehouse/orders/", "--limit", "1")
	if err != nil || len(strings.Split(strings.TrimSpace(one), "\n")) != 2 || !strings.Contains(one, `{"format":"parquet"}`) {
		t.Errorf("assets events URI --limit 1: %v\n%s", err, one)
	}
}
