package spark

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// kindSubmitting is the handle of a spark_rest try between "about to
// submit" and "the master's answer is stored". If Sirocco dies in that
// window the master may hold a driver whose id was never stored; the handle
// carries a tag that the submission passes to the driver as a Spark
// property, so the next start finds that driver instead of submitting a
// second one.
const kindSubmitting = "spark_submitting"

// submissionProperty carries the tag into the driver's command line, which
// the worker writes at the top of the driver's stderr.
const submissionProperty = "spark.sirocco.submission"

// findTimeout bounds the search for a submission's driver after a restart:
// a driver still queued for a worker cannot be told apart before it starts.
var findTimeout = 10 * time.Minute

// findPoll is how often the search looks at the master again.
var findPoll = time.Second

// newSubmissionTag returns a random tag for one submission.
func newSubmissionTag() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// errNeverSubmitted says the master holds no driver of a submission: the
// request never reached it, so the try failed without remote work.
var errNeverSubmitted = errors.New("the master holds no driver of this submission")

// findSubmission looks for the driver a crashed spark_rest try submitted:
// among the drivers the master created since the try's handle was written
// (minus clock skew), the one whose launch command carries the tag. It waits
// while some candidate has not been launched on a worker yet, since only a
// launched driver's command can be read.
func findSubmission(ctx context.Context, c *spark.Client, tag string, since time.Time) (string, error) {
	deadline := time.Now().Add(findTimeout)
	needle := "-D" + submissionProperty + "=" + tag
	checked := map[string]bool{} // launched candidates already read: not ours
	unreadable := map[string]int{}
	for {
		m, err := c.Master(ctx)
		if err != nil {
			return "", fmt.Errorf("read the master: %w", err)
		}
		waiting := 0
		for _, d := range append(append([]spark.DriverInfo(nil), m.ActiveDrivers...), m.CompletedDrivers...) {
			if checked[d.ID] || (!d.StartTime.IsZero() && d.StartTime.Before(since.Add(-clockSkew))) {
				continue
			}
			if d.Worker == "" {
				if d.State == "SUBMITTED" {
					waiting++ // not launched yet: cannot tell
				}
				continue
			}
			ours, err := launchedWith(ctx, c, d, needle)
			if err != nil {
				// Not readable yet (being launched), or never again (its
				// worker is gone): look a few more times, then give up on it.
				if unreadable[d.ID]++; unreadable[d.ID] < maxUnreadable {
					waiting++
				} else {
					checked[d.ID] = true
				}
				continue
			}
			if ours {
				return d.ID, nil
			}
			checked[d.ID] = true
		}
		if waiting == 0 {
			return "", errNeverSubmitted
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%d driver(s) of the master could be this submission's and were not launched within %s", waiting, findTimeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(findPoll):
		}
	}
}

// maxUnreadable is how many times a launched driver's log may fail to be
// read before the search stops considering it.
const maxUnreadable = 10

// clockSkew allows for the master's clock being behind ours.
const clockSkew = 5 * time.Minute

// launchedWith reports whether the launch command at the top of a driver's
// stderr contains needle.
func launchedWith(ctx context.Context, c *spark.Client, d spark.DriverInfo, needle string) (bool, error) {
	ui, err := c.WorkerWebUI(ctx, d.Worker)
	if err != nil {
		return false, err
	}
	data, _, _, err := c.DriverLog(ctx, ui, d.ID, spark.Stderr, 0)
	if err != nil {
		return false, err
	}
	return strings.Contains(string(data), needle), nil
}

// resumeSubmission finishes what a spark_rest try was doing when Sirocco
// stopped between submitting and storing the answer: it finds the driver
// by its tag, stores its id, and tracks it; if the master never got the
// submission, the try fails (and is retried by its policy) without any
// driver left behind.
func resumeSubmission(ctx context.Context, t *operator.Task, h Handle) (operator.Result, error) {
	token := ""
	if h.ConnID != "" {
		s, err := resolve(ctx, t, operator.Args{"conn_id": h.ConnID})
		if err != nil {
			return operator.Result{}, fmt.Errorf("resume submission %s: %w", h.Submission, err)
		}
		token = s.RESTToken
	}
	client := &spark.Client{RESTURL: h.RESTURL, MasterUIURL: h.MasterUI, Token: token}
	fmt.Fprintf(t.Log, "sirocco: looking on the master for the driver of submission %s (Sirocco stopped while submitting)\n", h.Submission)
	id, err := findSubmission(ctx, client, h.Submission, time.UnixMilli(h.SubmittedAt))
	if errors.Is(err, errNeverSubmitted) {
		fmt.Fprintf(t.Log, "sirocco: the master never received submission %s; nothing runs on the cluster\n", h.Submission)
		return operator.Result{}, err
	}
	if err != nil {
		return operator.Result{}, fmt.Errorf("find the driver of submission %s: %w", h.Submission, err)
	}
	h.Kind, h.DriverID = kindDriver, id
	if err := saveHandle(ctx, t, &h); err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", id, err),
			newTracker(t, client, &h, 0).kill(kctx, err))
	}
	fmt.Fprintf(t.Log, "sirocco: found driver %s of submission %s; tracking it\n", id, h.Submission)
	return newTracker(t, client, &h, operator.Args(t.Args).Duration("status_poll_interval", defaultPoll)).run(ctx)
}
