package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSpark: one live cluster per binary, its worker registered and the
// directories in place.
func TestSpark(t *testing.T) {
	c := Spark(t)
	if again := Spark(t); again != c {
		t.Fatal("a second call started another cluster")
	}
	var st struct {
		URL          string `json:"url"`
		AliveWorkers int    `json:"aliveworkers"`
		Workers      []struct {
			WebUIAddress string `json:"webuiaddress"`
			Memory       int    `json:"memory"`
			State        string `json:"state"`
		} `json:"workers"`
	}
	if err := getJSON(t.Context(), c.MasterUI+"/json/", &st); err != nil {
		t.Fatal(err)
	}
	if st.URL != c.MasterURL || st.AliveWorkers != 1 || len(st.Workers) != 1 {
		t.Fatalf("master state %+v, want %s with one alive worker", st, c.MasterURL)
	}
	if w := st.Workers[0]; w.WebUIAddress != c.WorkerUI || w.State != "ALIVE" || w.Memory > 2048 {
		t.Errorf("worker %+v, want ALIVE at %s with at most 2048 MiB", w, c.WorkerUI)
	}
	for _, d := range []string{c.WorkDir, c.ConfDir, c.LogDir} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, u := range []string{c.MasterURL, c.RESTURL, c.MasterUI, c.WorkerUI} {
		if !strings.Contains(u, "://127.0.0.1:") {
			t.Errorf("%s is not on the loopback address", u)
		}
	}
	if out, err := exec.CommandContext(t.Context(), c.Python, "-c", "import pyspark; print(pyspark.__version__)").Output(); err != nil ||
		strings.TrimSpace(string(out)) != c.Version {
		t.Errorf("python imports pyspark %q (%v), want %s", out, err, c.Version)
	}
}

// TestSparkTestJar runs the test jar's Echo in cluster mode with plain
// spark-submit through the REST server and the cluster's Env, as operator
// tests will: the driver's stdout has the arguments, and "fail" makes the
// driver FAILED.
func TestSparkTestJar(t *testing.T) {
	c := Spark(t)
	jar := SparkTestJar(t)
	if fi, err := os.Stat(jar); err != nil || fi.Size() == 0 {
		t.Fatalf("jar %s: %v", jar, err)
	}
	driverID := regexp.MustCompile(`driver-\d+-\d+`)
	// run submits Echo with args and returns its driver's id and final state.
	run := func(args ...string) (id, state string) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(c.SparkHome, "bin", "spark-submit"),
			append([]string{"--master", c.RESTMaster, "--deploy-mode", "cluster",
				"--conf", "spark.master.rest.enabled=true", "--driver-memory", "512m",
				"--class", SparkEchoClass, jar}, args...)...)
		cmd.Env = append(os.Environ(), c.Env()...)
		out, err := cmd.CombinedOutput()
		id = driverID.FindString(string(out))
		if err != nil || id == "" {
			t.Fatalf("spark-submit %v: %v; no driver id in its output:\n%s", args, err, out)
		}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for ; ; <-tick.C {
			var st struct {
				CompletedDrivers []struct{ ID, State string } `json:"completeddrivers"`
			}
			if err := getJSON(ctx, c.MasterUI+"/json/", &st); err != nil {
				t.Fatalf("master state: %v", err)
			}
			for _, d := range st.CompletedDrivers {
				if d.ID == id {
					return id, d.State
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("driver %s of %v did not complete", id, args)
			}
		}
	}

	id, state := run("hello", "world")
	stdout, err := os.ReadFile(filepath.Join(c.WorkDir, id, "stdout"))
	if state != "FINISHED" || err != nil || string(stdout) != "hello\nworld\n" {
		t.Errorf("driver %s: %s, stdout %q (%v); want FINISHED with the arguments", id, state, stdout, err)
	}

	id, state = run("fail")
	stderr, _ := os.ReadFile(filepath.Join(c.WorkDir, id, "stderr"))
	if state != "FAILED" || !strings.Contains(string(stderr), "Echo: failing as asked") {
		t.Errorf("driver %s: %s, stderr:\n%s\nwant FAILED with Echo's message", id, state, stderr)
	}
}
