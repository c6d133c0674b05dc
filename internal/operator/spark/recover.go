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

// findSubmission looks for the driver a spark_rest try submitted when its
// answer was lost (a crash, or a request that failed without a clear no):
// among the drivers the master created since the try's handle was written
// (minus clock skew), the one whose launch command carries the tag. It
// waits while some candidate has not been launched on a worker yet (or its
// launch command is not complete yet), since only a launched driver's
// command can be read, and it reads the master again after a failed read.
// A context that ends returns its cause, so a shutdown stays a detach.
func findSubmission(ctx context.Context, c *spark.Client, tag string, since time.Time) (string, error) {
	deadline := time.Now().Add(findTimeout)
	needle := "-D" + submissionProperty + "=" + tag
	checked := map[string]bool{} // launched candidates whose command was read: not ours
	unreadable := map[string]int{}
	var lastErr error
	for {
		waiting := 0
		m, err := c.Master(ctx)
		if err != nil {
			lastErr = err
			waiting++ // the master could not be read: look again
		}
		ui := map[string]string{}
		for _, w := range m.Workers {
			ui[w.ID] = w.WebUIAddress
		}
		for _, d := range append(append([]spark.DriverInfo(nil), m.ActiveDrivers...), m.CompletedDrivers...) {
			if checked[d.ID] || (!d.StartTime.IsZero() && d.StartTime.Before(since.Add(-clockSkew))) {
				continue
			}
			if d.Worker == "" || d.Worker == "None" {
				if !terminalDriverState(d.State) {
					waiting++ // not launched yet: cannot tell
				}
				continue
			}
			ours, complete, err := launchedWith(ctx, c, ui[d.Worker], d.ID, needle)
			switch {
			case ours:
				return d.ID, nil
			case err == nil && complete:
				checked[d.ID] = true
			default:
				// Being launched (no complete command yet), or never again
				// readable (its worker is gone): look a few more times.
				if unreadable[d.ID]++; unreadable[d.ID] < maxUnreadable || !terminalDriverState(d.State) && err == nil {
					waiting++
				} else {
					checked[d.ID] = true
				}
			}
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		if waiting == 0 {
			return "", errNeverSubmitted
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("%d driver(s) of the master could be this submission's and could not be read within %s",
				waiting, findTimeout)
			return "", errors.Join(err, lastErr)
		}
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-time.After(findPoll):
		}
	}
}

// terminalDriverState reports whether a driver state is final.
func terminalDriverState(s string) bool {
	switch s {
	case "FINISHED", "FAILED", "KILLED", "ERROR":
		return true
	}
	return false
}

// maxUnreadable is how many times a launched driver's log may fail to be
// read before the search stops considering it.
const maxUnreadable = 10

// clockSkew allows for the master's clock being behind ours.
const clockSkew = 5 * time.Minute

// launchMarker ends the launch command the worker writes at the top of a
// driver's stderr; until it is there the command may be incomplete.
const launchMarker = "========================================"

// launchedWith reports whether the launch command at the top of a driver's
// stderr contains needle, and whether that command is complete (an
// incomplete one proves nothing yet).
func launchedWith(ctx context.Context, c *spark.Client, workerUI, driverID, needle string) (ours, complete bool, err error) {
	if workerUI == "" {
		return false, false, errors.New("worker web UI unknown")
	}
	data, _, _, err := c.DriverLog(ctx, workerUI, driverID, spark.Stderr, 0)
	if err != nil {
		return false, false, err
	}
	text := string(data)
	if strings.Contains(text, needle) {
		return true, true, nil
	}
	i := strings.Index(text, "Launch Command:")
	return false, i >= 0 && strings.Contains(text[i:], launchMarker), nil
}

// resumeSubmission finishes what a spark_rest try was doing when Sirocco
// stopped between submitting and storing the answer: it finds the driver
// by its tag, stores its id, and tracks it; if the master never got the
// submission, the try fails (and is retried by its policy) without any
// driver left behind.
func resumeSubmission(ctx context.Context, t *operator.Task, h Handle) (operator.Result, error) {
	// A try resumed only to be stopped (its run ended) arrives with its
	// context already cancelled: the search and the kill must still run.
	wctx, cancel := workContext(ctx, findTimeout)
	defer cancel()
	token := ""
	if h.ConnID != "" {
		s, err := resolve(wctx, t, connOnly(h.ConnID))
		if err != nil {
			return operator.Result{}, fmt.Errorf("resume submission %s: %w", h.Submission, err)
		}
		token = s.RESTToken
	}
	client := &spark.Client{RESTURL: h.RESTURL, MasterUIURL: h.MasterUI, Token: token}
	fmt.Fprintf(t.Log, "sirocco: looking on the master for the driver of submission %s (Sirocco stopped while submitting)\n", h.Submission)
	id, err := findSubmission(wctx, client, h.Submission, time.UnixMilli(h.SubmittedAt))
	if errors.Is(err, errNeverSubmitted) {
		fmt.Fprintf(t.Log, "sirocco: the master never received submission %s; nothing runs on the cluster\n", h.Submission)
		return operator.Result{}, err
	}
	if err != nil {
		if errors.Is(err, operator.ErrDetach) {
			return operator.Result{}, err
		}
		return operator.Result{}, fmt.Errorf("find the driver of submission %s: %w", h.Submission, err)
	}
	return adoptDriver(ctx, t, client, h, id)
}

// adoptDriver stores the driver found for a submission and tracks it (or,
// with ctx already ended, kills it).
func adoptDriver(ctx context.Context, t *operator.Task, client *spark.Client, h Handle, id string) (operator.Result, error) {
	h.Kind, h.DriverID = kindDriver, id
	if err := saveHandle(ctx, t, &h); err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		return operator.Result{}, errors.Join(fmt.Errorf("store driver id %s: %w", id, err),
			newTracker(t, client, &h, 0).kill(kctx, err))
	}
	fmt.Fprintf(t.Log, "sirocco: found driver %s of submission %s; tracking it\n", id, h.Submission)
	return newTracker(t, client, &h, operator.FieldsOf(submitSpec, t.Args).Duration("status_poll_interval")).run(ctx)
}

// workContext is ctx for the reads that must happen even when the try is
// being stopped (to find and kill remote work): if ctx ended for any reason
// but a shutdown, it is replaced by a fresh one bounded by limit. A
// shutdown keeps ctx, so the operator detaches at once.
func workContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil || errors.Is(context.Cause(ctx), operator.ErrDetach) {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), limit)
}

// Recoverer resumes and stops the work of the handles spark_submit and
// spark_rest store: a standalone cluster driver is resumed (tracked
// again) or killed through the master's REST API; a driver pod on
// Kubernetes is tracked again or deleted; spark-submit on this
// host is stopped through the process package, as any local child; a
// remote spark-submit (ssh_conn_id) is followed again from the stored
// offsets, or its process group stopped on its host (remotejob.Stop).
type Recoverer struct{}

// HandleKinds are the Spark handle kinds.
func (Recoverer) HandleKinds() []string { return []string{kindDriver, kindSubmitting} }

// CanResume accepts a standalone cluster driver, a remote spark-submit
// that was started, or a submission whose driver may exist.
func (Recoverer) CanResume(b []byte) bool { return canResume(b) }

// Resume tracks a cluster driver submitted before a restart.
func (Recoverer) Resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	return resume(ctx, t, b)
}

// Stop kills what the handle names: spark-submit's process group on this
// host or on the ssh host (after t.KillGrace), and the cluster driver through the master (the
// driver of a submission is looked for first), each bounded by ctx. Work
// already gone is no error.
func (Recoverer) Stop(ctx context.Context, t *operator.Task, b []byte) error {
	h, err := decodeHandle(b)
	if err != nil {
		return err
	}
	var errs []error
	if h.Process != nil {
		groups, err := h.Process.Stop(ctx, t.KillGrace)
		if len(groups) > 0 {
			fmt.Fprintf(t.Log, "sirocco: stopped spark-submit's process group(s) %v\n", groups)
		}
		errs = append(errs, err)
	}
	if h.Remote != nil {
		// Its output may name a driver the handle does not yet.
		errs = append(errs, stopRemote(ctx, t, &h))
	}
	if h.Kube != nil {
		errs = append(errs, stopKube(ctx, t, h))
	}
	if h.DriverID != "" || h.Kind == kindSubmitting {
		errs = append(errs, stopDriver(ctx, t, h))
	}
	return errors.Join(errs...)
}

// stopDriver kills the cluster driver of h (found by its submission tag
// first, for a spark_submitting handle) within ctx.
func stopDriver(ctx context.Context, t *operator.Task, h Handle) error {
	token := ""
	if h.ConnID != "" {
		s, err := resolve(ctx, t, connOnly(h.ConnID))
		if err != nil {
			return fmt.Errorf("stop driver %s: %w", h.DriverID+h.Submission, err)
		}
		token = s.RESTToken
	}
	client := &spark.Client{RESTURL: h.RESTURL, MasterUIURL: h.MasterUI, Token: token}
	if h.Kind == kindSubmitting {
		id, err := findSubmission(ctx, client, h.Submission, time.UnixMilli(h.SubmittedAt))
		if errors.Is(err, errNeverSubmitted) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find the driver of submission %s: %w", h.Submission, err)
		}
		h.DriverID = id
	}
	return newTracker(t, client, &h, 0).kill(ctx, errors.New("its Sirocco is gone"))
}

// connOnly is a field set naming only a connection, for resolving it
// (its token) when no task fields are at hand.
func connOnly(id string) operator.Fields {
	return operator.FieldsOf(submitSpec, map[string]any{"conn_id": id})
}

func canResume(b []byte) bool {
	h, err := decodeHandle(b)
	if err != nil {
		return false
	}
	started := h.Remote != nil && h.Remote.Job != nil // a remote spark-submit outlives Sirocco
	return (h.Kind == kindDriver && (h.DriverID != "" || started || h.Kube != nil)) || (h.Kind == kindSubmitting && h.Submission != "")
}

func resume(ctx context.Context, t *operator.Task, b []byte) (operator.Result, error) {
	h, err := decodeHandle(b)
	if err != nil {
		return operator.Result{}, fmt.Errorf("resume: %w", err)
	}
	if h.Kind == kindSubmitting {
		return resumeSubmission(ctx, t, h)
	}
	if h.Remote != nil {
		return resumeRemote(ctx, t, h)
	}
	if h.Kube != nil {
		return resumeKube(ctx, t, h)
	}
	if h.DriverID == "" {
		return operator.Result{}, operator.ErrNotResumable
	}
	token := ""
	if h.ConnID != "" {
		rctx, cancel := workContext(ctx, killTimeout) // a try resumed to be stopped still needs its token
		defer cancel()
		s, err := resolve(rctx, t, connOnly(h.ConnID))
		if err != nil {
			return operator.Result{}, fmt.Errorf("resume driver %s: %w", h.DriverID, err)
		}
		token = s.RESTToken
	}
	client := &spark.Client{RESTURL: h.RESTURL, MasterUIURL: h.MasterUI, Token: token}
	return newTracker(t, client, &h, operator.FieldsOf(submitSpec, t.Args).Duration("status_poll_interval")).run(ctx)
}
