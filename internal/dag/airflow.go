package dag

import (
	"fmt"
	"slices"
)

// airflowKeys maps keys an Airflow user types from habit to Sirocco's
// spelling, so that the unknown-key message names the right key even when
// edit distance would not find it ("upstream" is nowhere near
// "depends_on").
var airflowKeys = map[string]string{
	"task_id":           "id",
	"group_id":          "id",
	"upstream":          "depends_on",
	"dependencies":      "depends_on",
	"upstream_task_ids": "depends_on",
	"bash_command":      "command",
	"python_callable":   "callable",
	"schedule_interval": "schedule",
}

// airflowOperators maps Airflow operator class names to Sirocco's operator
// names, whether or not Sirocco has that operator yet.
var airflowOperators = map[string]string{
	"BashOperator":          "bash",
	"PythonOperator":        "python",
	"EmptyOperator":         "empty",
	"DummyOperator":         "empty",
	"SparkSubmitOperator":   "spark_submit",
	"SSHOperator":           "ssh",
	"KubernetesPodOperator": "kubernetes_pod",
	"SimpleHttpOperator":    "http",
	"HttpOperator":          "http",
	"BranchPythonOperator":  "branch",
	"BranchBashOperator":    "branch",
	"BaseBranchOperator":    "branch",
	"ShortCircuitOperator":  "short_circuit",
	"LatestOnlyOperator":    "latest_only",
	"TriggerDagRunOperator": "trigger_dag",
}

// airflowTriggerRules maps the trigger rules Airflow renamed to the names it
// and Sirocco use now, so a DAG written for an older Airflow is told the
// new name rather than only shown the list.
var airflowTriggerRules = map[string]TriggerRule{
	"none_failed_or_skipped": NoneFailedMinOneSuccess,
	"dummy":                  Always,
}

// airflowTriggerRuleHint returns ` (dummy is Airflow's old name; Sirocco's
// is "always")` for a renamed rule, "" otherwise.
func airflowTriggerRuleHint(name string) string {
	ours, ok := airflowTriggerRules[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%s is Airflow's old name; Sirocco's is %q)", name, ours)
}

// airflowKeyHint returns ` (task_id is Airflow's name; Sirocco's is "id")`
// when name is an Airflow spelling of a key allowed here, "" otherwise.
func airflowKeyHint(name string, allowed []string) string {
	ours, ok := airflowKeys[name]
	if !ok || !slices.Contains(allowed, ours) {
		return ""
	}
	return fmt.Sprintf(" (%s is Airflow's name; Sirocco's is %q)", name, ours)
}

// airflowOperatorHint returns a hint naming Sirocco's operator for an
// Airflow operator class name, saying when it does not exist yet; "" when
// name is not one.
func airflowOperatorHint(name string, ops map[string]OperatorSpec) string {
	ours, ok := airflowOperators[name]
	if !ok {
		return ""
	}
	if _, exists := ops[ours]; exists {
		return fmt.Sprintf(" (%s is Airflow's name; Sirocco's operator is %s)", name, ours)
	}
	return fmt.Sprintf(" (%s is Airflow's name; Sirocco's operator is %s (not available yet))", name, ours)
}

// hasAirflowSpelling reports whether entries hold an Airflow spelling of
// key (bash_command for command), reported with a hint that already says
// what "missing required key" would.
func hasAirflowSpelling(entries []entry, key string) bool {
	return slices.ContainsFunc(entries, func(e entry) bool { return airflowKeys[e.name] == key })
}
