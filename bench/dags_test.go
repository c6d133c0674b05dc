package bench

import (
	"fmt"
	"strings"
)

// chainDAG is n bash tasks running `true`, each depending on the previous.
func chainDAG(id string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\ntasks:\n", id)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: t%03d, operator: bash, command: \"true\"", i)
		if i > 0 {
			fmt.Fprintf(&b, ", depends_on: [t%03d]", i-1)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// fanDAG is start -> width parallel tasks -> end, all `empty`, with
// max_active_tasks raised to the executor's parallelism (32) so that the
// DAG's default of 16 does not cap the run.
func fanDAG(id string, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\nmax_active_tasks: 32\ntasks:\n  - {id: start, operator: empty}\n", id)
	ids := make([]string, width)
	for i := range width {
		ids[i] = fmt.Sprintf("p%05d", i)
		fmt.Fprintf(&b, "  - {id: %s, operator: empty, depends_on: [start]}\n", ids[i])
	}
	fmt.Fprintf(&b, "  - {id: end, operator: empty, depends_on: [%s]}\n", strings.Join(ids, ", "))
	return b.String()
}

// chainsDAG is chains independent chains of length `empty` tasks each,
// with max_active_tasks 32.
func chainsDAG(id string, chains, length int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\nmax_active_tasks: 32\ntasks:\n", id)
	for c := range chains {
		for i := range length {
			fmt.Fprintf(&b, "  - {id: c%03d_t%03d, operator: empty", c, i)
			if i > 0 {
				fmt.Fprintf(&b, ", depends_on: [c%03d_t%03d]", c, i-1)
			}
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// corpusDAG is the i-th file of the parse benchmark's DAGs folder: a
// realistic DAG of 6 tasks with a cron schedule, params, default_args,
// templated bash, python and env fields, and a trigger rule.
func corpusDAG(i int) string {
	return fmt.Sprintf(`# Generated DAG %[1]d of the parse benchmark.
dag_id: etl_%04[1]d
description: Extract, transform and load partition %[1]d.
schedule: "%[2]d */2 * * *"
timezone: Europe/Paris
start_date: 2026-01-01
catchup: false
max_active_runs: 1
max_active_tasks: 8
dagrun_timeout: 2h
tags: [generated, etl, team_%[3]d]
params:
  region: {type: string, default: eu, enum: [eu, us, ap], description: where to read from}
  limit: {type: integer, default: 100}
  dry_run: false
default_args:
  retries: 2
  retry_delay: 30s
  retry_exponential_backoff: true
  max_retry_delay: 10m
  execution_timeout: 1h
tasks:
  - id: extract
    operator: bash
    command: ./extract.sh --region {{ params.region | shquote }} --day {{ ds }} --limit {{ params.limit }} --partition %[1]d
    env: {API_TOKEN: "{{ var.value.api_token }}", PARTITION: "%[1]d"}
    append_env: true
  - id: validate
    operator: bash
    depends_on: [extract]
    command: test -s "/data/{{ ds_nodash }}/part-%[1]d.csv"
  - id: transform
    operator: python
    depends_on: [validate]
    script: jobs/transform.py
    args: ["{{ ti.xcom_pull(task_ids='extract') }}", "{{ macros.ds_add(ds, -1) }}"]
    pool: cpu_heavy
    pool_slots: 2
    priority_weight: 10
  - id: load
    operator: bash
    depends_on: [transform]
    command: '{%% if params.dry_run %%}echo dry run {{ ds }} %[1]d{%% else %%}./load.sh {{ ts_nodash }} %[1]d{%% endif %%}'
  - id: notify_failure
    operator: bash
    depends_on: [transform, load]
    trigger_rule: one_failed
    command: echo "partition %[1]d failed for {{ ds }} in run {{ run_id }}"
  - id: done
    operator: empty
    depends_on: [load]
`, i, i%60, i%10)
}
