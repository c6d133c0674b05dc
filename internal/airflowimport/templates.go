package airflowimport

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sirocco-dev/sirocco/internal/template"
)

// sampleContext is a run's template context with made-up values: a
// template that fails with it names something Sirocco's engine does not
// have (execution_date, prev_ds, conn ...), whatever the run.
func sampleContext(params map[string]any) template.Context {
	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	return template.NewContext(template.Info{DagID: "d", RunID: "r", TaskID: "t", Operator: "bash",
		LogicalDate: day, DataIntervalStart: day.Add(-24 * time.Hour), DataIntervalEnd: day, TryNumber: 1,
		Params: params, Conf: map[string]any{},
		Variables: func(string) (string, error) { return "{}", nil },
		XComPull:  func(string, string) (any, error) { return "x", nil }})
}

// unknownName matches the engine's errors for a name it does not have,
// as opposed to data of the run (a param or conf key) that is missing.
var unknownName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`"[A-Za-z_][A-Za-z0-9_]*" is undefined|macros\.[A-Za-z_]+: attribute|of <macros>|filter '[^']+' not found`)
})

// templateHints say what Sirocco's templates offer instead of an Airflow name.
var templateHints = map[string]string{
	"execution_date":      "write logical_date (Airflow 2's execution_date)",
	"next_ds":             "write {{ data_interval_end.strftime('%Y-%m-%d') }}",
	"prev_ds":             "write {{ macros.ds_add(ds, -1) }} for a daily schedule",
	"yesterday_ds":        "write {{ macros.ds_add(ds, -1) }}",
	"tomorrow_ds":         "write {{ macros.ds_add(ds, 1) }}",
	"conn":                "give the connection to the operator (conn_id fields), or pass its values as env",
	"macros.":             "Sirocco's macros are ds_add, ds_format, timedelta and datetime.utcnow/now",
	"next_execution_date": "write data_interval_end",
	"prev_execution_date": "write data_interval_start for a run on schedule",
}

// checkTemplates reports the templates of a converted task that Sirocco's
// engine cannot render, with what to write instead.
func (c *converter) checkTemplates(t TaskIR, n *yaml.Node, ctx template.Context) {
	if n.Kind == yaml.ScalarNode {
		if !strings.Contains(n.Value, "{{") && !strings.Contains(n.Value, "{%") {
			return
		}
		_, err := template.Render(n.Value, ctx)
		if err == nil || !unknownName().MatchString(err.Error()) {
			return
		}
		hint := "see README, Templates, for the names Sirocco's templates have"
		for _, name := range sortedKeys(templateHints) {
			h := templateHints[name]
			if strings.Contains(err.Error(), `"`+name+`"`) || strings.HasSuffix(name, ".") && strings.Contains(err.Error(), name) {
				hint = h
			}
		}
		c.add(t.Loc, t.TaskID, fmt.Sprintf("the template %s does not render in Sirocco: %s", truncate(n.Value, 80), err), hint)
		return
	}
	for i, e := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // a key
		}
		c.checkTemplates(t, e, ctx)
	}
}
