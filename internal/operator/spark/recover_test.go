package spark

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/spark"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunMain(m) }

// submitTagged submits the test jar's sleeper as a cluster driver carrying
// tag, with memory as its driver memory, and kills it when the test ends.
func submitTagged(t *testing.T, cl *testenv.SparkCluster, c *spark.Client, tag, memory string) string {
	t.Helper()
	jar := testenv.SparkTestJar(t)
	id, err := c.Submit(t.Context(), spark.SubmitRequest{
		AppResource: "file:" + jar, MainClass: testenv.SparkSleepClass, AppArgs: []string{"60"},
		SparkProperties: map[string]string{"spark.master": cl.MasterURL, "spark.submit.deployMode": "cluster",
			"spark.jars": "file:" + jar, "spark.driver.memory": memory, "spark.app.name": "recover-test",
			submissionProperty: tag},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(context.Background(), id) })
	return id
}

// TestFindSubmissionAgainstTheCluster drives the search a restarted
// spark_rest try makes, against the real master: a launched driver is
// found by its tag; a driver the cluster cannot place yet (queued, worker
// "None") is waited for, never taken for "never submitted"; a shutdown
// during the wait stays a detach; and a tag nobody sent is reported as
// never submitted.
func TestFindSubmissionAgainstTheCluster(t *testing.T) {
	cl := testenv.Spark(t)
	c := &spark.Client{RESTURL: cl.RESTURL, MasterUIURL: cl.MasterUI}
	since := time.Now()
	prevTimeout, prevPoll := findTimeout, findPoll
	t.Cleanup(func() { findTimeout, findPoll = prevTimeout, prevPoll })
	findPoll = 200 * time.Millisecond

	tag := fmt.Sprintf("found-%d", time.Now().UnixNano())
	id := submitTagged(t, cl, c, tag, "512m")
	findTimeout = 2 * time.Minute
	got, err := findSubmission(t.Context(), c, tag, since)
	if err != nil || got != id {
		t.Fatalf("findSubmission = %q, %v; want %s", got, err, id)
	}
	if err := c.Kill(t.Context(), id); err != nil {
		t.Fatal(err)
	}

	// More memory than the worker has: the master keeps it queued.
	queued := fmt.Sprintf("queued-%d", time.Now().UnixNano())
	qid := submitTagged(t, cl, c, queued, "200g")
	findTimeout = 2 * time.Second
	if _, err := findSubmission(t.Context(), c, queued, since); err == nil || errors.Is(err, errNeverSubmitted) {
		t.Errorf("a queued driver that may be ours: err %v, want a timeout that is not 'never submitted'", err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	time.AfterFunc(300*time.Millisecond, func() { cancel(fmt.Errorf("%w: shutting down", operator.ErrDetach)) })
	findTimeout = time.Minute
	if _, err := findSubmission(ctx, c, queued, since); !errors.Is(err, operator.ErrDetach) {
		t.Errorf("a shutdown during the search: err %v, want ErrDetach", err)
	}
	if err := c.Kill(t.Context(), qid); err != nil {
		t.Fatal(err)
	}

	findTimeout = 2 * time.Minute
	if _, err := findSubmission(t.Context(), c, "never-sent", since); !errors.Is(err, errNeverSubmitted) {
		t.Errorf("a tag nobody sent: err %v, want errNeverSubmitted", err)
	}
}
