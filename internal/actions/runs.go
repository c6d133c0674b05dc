package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// RunRequest describes a run a user asks for (`dags trigger`, `dags test`,
// POST dagRuns). Zero fields take Airflow's defaults.
type RunRequest struct {
	// Type is store.RunManual when empty.
	Type store.RunType
	// RunID defaults to <type>__<logical date>.
	RunID string
	// LogicalDate is YYYY-MM-DD or RFC 3339; empty means now.
	LogicalDate string
	// Conf is dag_run.conf; it must satisfy the DAG's params.
	Conf map[string]any
}

// CreateRun checks the request against the DAG's params and inserts a
// queued run with its task instances; the scheduler picks it up at once,
// in another process too (the insert notifies it: store.Store.Notify). A
// run with the same id or logical date gives an error wrapping
// store.ErrExists.
func CreateRun(ctx context.Context, st store.Store, d *dag.DAG, req RunRequest, now time.Time) (store.DagRun, error) {
	if err := checkConf(req.Conf); err != nil {
		return store.DagRun{}, err
	}
	if _, err := d.ResolveParams(req.Conf); err != nil {
		return store.DagRun{}, invalid("conf", fmt.Errorf("conf does not match the DAG's params: %w", err))
	}
	typ := req.Type
	if typ == "" {
		typ = store.RunManual
	}
	if req.RunID != "" {
		if err := CheckRunID(req.RunID, typ); err != nil {
			return store.DagRun{}, err
		}
	}
	now = now.UTC().Truncate(time.Microsecond) // what every store keeps: the run returned is the run stored
	at := now
	if req.LogicalDate != "" {
		t, err := ParseDate(req.LogicalDate)
		if err != nil {
			return store.DagRun{}, invalid("logical_date", err)
		}
		at = t.Truncate(time.Microsecond)
	}
	run, tis := scheduler.NewRunRecords(d, typ, dag.Interval{Start: at, End: at}, req.Conf, now)
	if req.RunID != "" {
		run.RunID = req.RunID
		for i := range tis {
			tis[i].RunID = req.RunID
		}
	}
	if err := st.CreateRun(ctx, run, tis); err != nil {
		if errors.Is(err, store.ErrExists) {
			return run, kindf(store.ErrExists, "a run of %s with run id %s or logical date %s already exists",
				d.ID, run.RunID, at.Format(time.RFC3339))
		}
		return run, err
	}
	return run, nil
}

// ParseDate accepts YYYY-MM-DD or RFC 3339, as every date a user types,
// within the years 1 to 9999 (UTC), which every store keeps exactly.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, fmt.Errorf("bad date %q (expected YYYY-MM-DD or RFC 3339)", s)
		}
	}
	t = t.UTC()
	if err := checkDate(s, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// Backfillable reports why d cannot be backfilled: a DAG without a
// schedule has no data intervals.
func Backfillable(d *dag.DAG) error {
	if !dag.IsPeriodic(d.Schedule) {
		return invalidf("dag_id", "DAG %s has no schedule, so it has no data intervals to backfill", d.ID)
	}
	return nil
}

// BackfillRun is one data interval of a backfill: the run created for it,
// or Existed when a run for that logical date was already there.
type BackfillRun struct {
	RunID       string
	LogicalDate time.Time
	Existed     bool
}

// Backfill creates a backfill run for every data interval of d starting
// in [from, to], skipping intervals that already have a run. On an error
// it returns the intervals handled so far with it.
func Backfill(ctx context.Context, st store.Store, d *dag.DAG, from, to time.Time, conf map[string]any, now time.Time) ([]BackfillRun, error) {
	if err := Backfillable(d); err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, invalidf("to", "the backfill ends (%s) before it starts (%s)",
			to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	if err := checkConf(conf); err != nil {
		return nil, err
	}
	if _, err := d.ResolveParams(conf); err != nil {
		return nil, invalid("conf", err)
	}
	var out []BackfillRun
	iv, ok := d.Schedule.First(from.In(d.Timezone))
	for ; ok && !iv.Start.After(to); iv, ok = next(d.Schedule, iv) {
		run, tis := scheduler.NewRunRecords(d, store.RunBackfill, iv, conf, now)
		err := st.CreateRun(ctx, run, tis)
		if errors.Is(err, store.ErrExists) {
			out = append(out, BackfillRun{RunID: run.RunID, LogicalDate: iv.Start, Existed: true})
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, BackfillRun{RunID: run.RunID, LogicalDate: iv.Start})
	}
	return out, nil
}

// next is the interval after iv, or false when the schedule gives none
// later (a cron expression whose next match its library cannot find gives
// the zero time): a backfill must move forward or stop.
func next(s dag.Schedule, iv dag.Interval) (dag.Interval, bool) {
	n, ok := s.Next(iv)
	return n, ok && n.Start.After(iv.Start) && n.End.After(n.Start)
}

// SetPaused pauses or unpauses d. The DAG's row is written first, so a DAG
// no scheduler has recorded yet can be paused before it ever runs.
func SetPaused(ctx context.Context, st store.Store, d *dag.DAG, paused bool, now time.Time) error {
	if err := st.UpsertDAG(ctx, store.DAGRecord{DagID: d.ID, FileLoc: d.FileLoc, LastParsed: now}); err != nil {
		return err
	}
	return st.SetPaused(ctx, d.ID, paused)
}
