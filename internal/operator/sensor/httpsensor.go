package sensor

import (
	"context"
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
		"(status list, json_path, regex); a refused response means not yet, a transport error fails the try.",
	httpFields()...)

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
	return out
}

// httpPoke sends the request once through the http operator's code.
func httpPoke(sp dag.OperatorSpec) PokeFunc {
	return func(ctx context.Context, t *operator.Task) (bool, error) {
		args := maps.Clone(t.Args)
		delete(args, "timeout")
		args["timeout"] = operator.FieldsOf(sp, t.Args).Duration("request_timeout").String()
		delete(args, "request_timeout")
		req := *t
		req.Args = args
		return httpop.Probe(ctx, &req)
	}
}
