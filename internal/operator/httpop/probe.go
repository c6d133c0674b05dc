package httpop

import (
	"context"
	"fmt"
	"slices"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// StatusError is an HTTP error status (400 and above) that response_check
// does not accept and that is not one a probe keeps waiting on: Airflow's
// HttpSensor raises it (the hook's raise_for_status) instead of poking
// again.
type StatusError struct {
	Status int
	Err    error // why the check refused the answer
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP error status %d (not one that means not yet): %v", e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// Probe sends the request t's fields describe, as Execute does, and
// reports whether the response passes response_check: the http_sensor's
// poke (Airflow's HttpSensor). A bad field, a missing connection or a
// transport error is an error, and so is an HTTP error status the check
// does not accept (*StatusError) unless it is in waitOn (Airflow's
// response_error_codes_allowlist, 404 by default); any other answer the
// check refuses is false, with the reason in the try's log.
func Probe(ctx context.Context, t *operator.Task, waitOn []int) (bool, error) {
	cfg, err := readConfig(t)
	if err != nil {
		return false, err
	}
	settings, err := resolve(ctx, t, cfg.connID)
	if err != nil {
		return false, err
	}
	req, err := build(cfg, settings)
	if err != nil {
		return false, err
	}
	for _, s := range req.secrets {
		mask(t, s)
	}
	client, tr, _, err := newClient(cfg, settings, req)
	if err != nil {
		return false, err
	}
	defer tr.CloseIdleConnections()
	s := &sender{cfg: cfg, client: client, req: req, log: t.Log}
	resp, err := s.send(ctx)
	if err != nil {
		return false, err
	}
	if cfg.logResponse {
		logBody(t.Log, resp.Body)
	}
	if err := cfg.check.Evaluate(resp); err != nil {
		if resp.Status >= 400 && !cfg.check.Accepts(resp.Status) && !slices.Contains(waitOn, resp.Status) {
			return false, &StatusError{Status: resp.Status, Err: err}
		}
		fmt.Fprintf(t.Log, "http: not yet: %v\n", err)
		return false, nil
	}
	return true, nil
}
