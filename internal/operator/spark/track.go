package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// killTimeout bounds every attempt to stop remote work on cancel.
const killTimeout = 30 * time.Second

// defaultPoll is how often a driver's state is asked for: the REST call is
// cheap, and the poll bounds how late a finished driver is noticed.
const defaultPoll = 500 * time.Millisecond

// driverTracker follows a standalone cluster driver through the master's
// REST API to a final state, copying its stdout and stderr from the
// worker's web UI into the task log as they grow, so no log is lost.
type driverTracker struct {
	t      *operator.Task
	client *spark.Client
	h      *Handle
	poll   time.Duration

	workerUI string
	offsets  map[string]int64
}

func newTracker(t *operator.Task, c *spark.Client, h *Handle, poll time.Duration) *driverTracker {
	if poll <= 0 {
		poll = time.Second
	}
	return &driverTracker{t: t, client: c, h: h, poll: poll, offsets: map[string]int64{}}
}

// run polls until the driver ends. Cancelling ctx kills the driver (bounded)
// and waits for the master to confirm, so nothing is left orphaned.
func (d *driverTracker) run(ctx context.Context) (operator.Result, error) {
	id := d.h.DriverID
	fmt.Fprintf(d.t.Log, "sirocco: tracking driver %s through %s\n", id, d.h.RESTURL)
	ticker := time.NewTicker(d.poll)
	defer ticker.Stop()
	lastState := ""
	failures, unknown := 0, 0
	for {
		st, err := d.client.Status(ctx, id)
		switch {
		case errors.Is(err, spark.ErrUnauthorized):
			return operator.Result{}, fmt.Errorf("the master refused the status request for %s: %w", id, err)
		case errors.Is(err, spark.ErrNotFound) && ctx.Err() == nil:
			// A master that forgot the driver (restarted without recovery)
			// will not learn of it again: give up after a while.
			if unknown++; unknown >= 20 {
				return operator.Result{}, fmt.Errorf("the master no longer knows driver %s: %w", id, err)
			}
		case err != nil && ctx.Err() == nil:
			failures++
			if failures == 1 || failures%30 == 0 {
				fmt.Fprintf(d.t.Log, "sirocco: driver status unavailable (%d tries): %v\n", failures, err)
			}
		case err == nil:
			failures, unknown = 0, 0
			if st.State != lastState {
				fmt.Fprintf(d.t.Log, "sirocco: driver %s is %s\n", id, st.State)
				lastState = st.State
			}
			d.noteWorker(ctx, st)
			d.copyLogs(ctx)
			if st.Terminal() {
				d.copyLogs(context.WithoutCancel(ctx))
				if st.State == "FINISHED" {
					return operator.Result{}, nil
				}
				msg := st.Message
				if msg != "" {
					msg = ": " + msg
				}
				return operator.Result{}, fmt.Errorf("driver %s ended %s%s", id, st.State, msg)
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), operator.ErrDetach) {
				fmt.Fprintf(d.t.Log, "sirocco: leaving driver %s running (%v)\n", id, context.Cause(ctx))
				return operator.Result{}, operator.ErrDetach
			}
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
			err := d.kill(kctx, context.Cause(ctx))
			cancel()
			return operator.Result{}, errors.Join(context.Cause(ctx), err)
		case <-ticker.C:
		}
	}
}

// kill stops the driver after a cancel or timeout (why) and waits, within
// kctx's deadline, for the master to report it ended. It returns an error
// only if the driver could not be confirmed stopped.
func (d *driverTracker) kill(kctx context.Context, why error) error {
	cause := why
	id := d.h.DriverID
	fmt.Fprintf(d.t.Log, "sirocco: killing driver %s (%v)\n", id, cause)
	if err := d.client.Kill(kctx, id); err != nil {
		fmt.Fprintf(d.t.Log, "sirocco: kill request failed: %v\n", err)
	}
	for {
		st, err := d.client.Status(kctx, id)
		if errors.Is(err, spark.ErrNotFound) {
			return nil // the master does not know it: nothing left to stop
		}
		if err == nil && st.Terminal() {
			fmt.Fprintf(d.t.Log, "sirocco: driver %s is %s\n", id, st.State)
			d.copyLogs(kctx)
			return nil
		}
		select {
		case <-kctx.Done():
			return fmt.Errorf("driver %s did not stop within %s", id, killTimeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// noteWorker records where the driver runs and, once the master lists its
// application, the application id and UI link on the handle.
func (d *driverTracker) noteWorker(ctx context.Context, st spark.DriverStatus) {
	if d.workerUI == "" && st.WorkerID != "" {
		if ui, err := d.client.WorkerWebUI(ctx, st.WorkerID); err == nil {
			d.workerUI = ui
		}
	}
	if d.h.AppID == "" && st.State == "RUNNING" {
		if app, err := d.client.AppIDForDriver(ctx, d.h.DriverID); err == nil && app != "" {
			d.h.AppID = app
			if d.h.MasterUI != "" {
				d.h.SparkUI = d.h.MasterUI + "/app/?appId=" + app
			}
			fmt.Fprintf(d.t.Log, "sirocco: application %s (%s)\n", app, d.h.SparkUI)
			if b, err := json.Marshal(d.h); err == nil {
				_ = d.t.SaveHandle(ctx, b)
			}
		}
	}
}

// copyLogs appends what the driver wrote since the last copy.
func (d *driverTracker) copyLogs(ctx context.Context) {
	if d.workerUI == "" {
		return
	}
	for _, kind := range []string{"stdout", "stderr"} {
		for range 64 { // bounded: at most 64 chunks per poll
			data, next, total, err := d.client.DriverLog(ctx, d.workerUI, d.h.DriverID, kind, d.offsets[kind])
			if err != nil || len(data) == 0 {
				break
			}
			_, _ = d.t.Log.Write(data)
			d.offsets[kind] = next
			if next >= total {
				break
			}
		}
	}
}
