package httpop

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/operator"
)

// Probe sends the request t's fields describe, as Execute does, and
// reports whether the response passes response_check: the http_sensor's
// poke (Airflow's HttpSensor). A bad field, a missing connection or a
// transport error is an error; an answer the check refuses is false,
// with the reason in the try's log.
func Probe(ctx context.Context, t *operator.Task) (bool, error) {
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
		fmt.Fprintf(t.Log, "http: not yet: %v\n", err)
		return false, nil
	}
	return true, nil
}
