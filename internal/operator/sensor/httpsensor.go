package sensor

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
)

// HTTPSpec declares http_sensor (Airflow's HttpSensor): the http
// operator's request fields and response_check, whose failure means not
// yet. Its timeout is the sensor's; request_timeout bounds one request.
var HTTPSpec = spec("http_sensor",
	"Wait until an HTTP request through an http connection gets a response that passes response_check "+
		"(status list, json_path, regex); a refused response or a 404 means not yet; another HTTP error status "+
		"(401, 403, 500...) or a transport error fails the try (skips it with soft_fail).",
	httpFields()...)

// defaultWaitOn is Airflow's HttpSensor response_error_codes_allowlist.
var defaultWaitOn = []int{404}

// httpFields are the http operator's fields a request needs.
func httpFields() []dag.FieldSpec {
	var out []dag.FieldSpec
	for _, f := range httpop.Spec.Fields {
		switch f.Name {
		case "response_filter", "do_xcom_push":
			continue
		case "timeout":
			f.Name, f.Description = "request_timeout", "limit of one request, the body read included"
		}
		out = append(out, f)
	}
	return append(out, dag.FieldSpec{Name: "response_error_codes_allowlist", Kind: dag.FieldIntList, Default: defaultWaitOn,
		Description: "HTTP error statuses that mean not yet (Airflow's HttpSensor); any other error status response_check does not accept fails the try"})
}

// httpPoke sends the request once through the http operator's code. An
// HTTP error status fails the try as Airflow's HttpSensor does, or skips
// it with soft_fail.
func httpPoke(sp dag.OperatorSpec) PokeFunc {
	return func(ctx context.Context, t *operator.Task) (bool, error) {
		f := operator.FieldsOf(sp, t.Args)
		args := maps.Clone(t.Args)
		delete(args, "timeout")
		args["timeout"] = f.Duration("request_timeout").String()
		delete(args, "request_timeout")
		req := *t
		req.Args = args
		ok, err := httpop.Probe(ctx, &req, f.Ints("response_error_codes_allowlist"))
		var status *httpop.StatusError
		if errors.As(err, &status) && f.Bool("soft_fail") {
			return false, fmt.Errorf("%w: %w (soft_fail)", operator.ErrSkip, err)
		}
		return ok, err
	}
}
