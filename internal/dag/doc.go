// Package dag is Sirocco's model of a pipeline and the loader that builds it
// from YAML files.
//
// A DAG file uses Airflow's field names (dag_id, schedule, start_date,
// default_args, retries, trigger_rule, ...) so that an Airflow user can read
// and write one without a manual. The loader is strict on purpose: it rejects
// unknown keys (with a "did you mean" hint), wrong types, bad durations,
// dates, time zones and cron expressions, dangling or cyclic dependencies and
// template syntax errors before anything runs, and it reports every problem
// in a file at once, each as a *FileError naming file, line, column and field.
// A broken file never prevents the other files of a folder from loading (see
// LoadDir).
//
// Operator-specific task fields are not known to this package: the caller
// passes the operators' field specs in LoadOptions, which keeps this package
// free of any dependency on the operators and lets Schema describe them for
// editors.
//
// A loaded DAG is immutable; the scheduler, API and executors share it
// without copying.
package dag
