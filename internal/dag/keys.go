package dag

// keyInfo documents one key of the file format. The same tables drive the
// loader (which keys are allowed where, and did-you-mean hints) and Schema
// (properties and descriptions), so the two cannot drift apart.
type keyInfo struct {
	name   string
	desc   string
	schema map[string]any // JSON Schema of the value, without description
}

// Schema fragments shared by several keys.
var (
	schemaString    = map[string]any{"type": "string"}
	schemaInt       = map[string]any{"type": "integer"}
	schemaPosInt    = map[string]any{"type": "integer", "minimum": 1}
	schemaBool      = map[string]any{"type": "boolean"}
	schemaDuration  = map[string]any{"$ref": "#/$defs/duration"}
	schemaDate      = map[string]any{"$ref": "#/$defs/date"}
	schemaEnv       = map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/scalar"}}
	schemaID        = map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "maxLength": maxIDLen}
	schemaGroupID   = map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": maxIDLen}
	schemaNotifiers = map[string]any{"$ref": "#/$defs/notifiers"}
	schemaDeps      = map[string]any{"oneOf": []any{schemaString, map[string]any{"type": "array", "items": schemaString}}}
	schemaAssetRef  = map[string]any{"oneOf": []any{schemaString, map[string]any{"type": "object", "required": []any{"uri"},
		"additionalProperties": false, "properties": map[string]any{"uri": schemaString, "extra": map[string]any{"type": "object"}}}}}
	schemaAssetRefs = map[string]any{"type": "array", "items": schemaAssetRef}
)

// topKeys are the keys of a DAG file's top-level mapping.
var topKeys = []keyInfo{
	{"dag_id", "Unique identifier of the DAG (letters, digits, '_', '.', '-').", schemaID},
	{"description", "Free text shown in the UI and `dags list`.", schemaString},
	{"schedule", `When runs are created: a 5-field cron expression, a preset (@once, @hourly, @daily, @weekly, @monthly, @yearly), "every <duration>" (e.g. "every 15m"), "none" for manual runs only, or assets (data-aware scheduling): a list of asset URIs (a run once all of them were updated) or {assets: {all: [...]}} / {assets: {any: [...]}}, nested as needed.`,
		map[string]any{"oneOf": []any{map[string]any{"type": []any{"string", "null"}}, map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/asset_condition"}},
			map[string]any{"type": "object", "required": []any{"assets"}, "additionalProperties": false,
				"properties": map[string]any{"assets": map[string]any{"oneOf": []any{map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/asset_condition"}}, map[string]any{"$ref": "#/$defs/asset_condition"}}}}}}}},
	{"timezone", "IANA time zone in which the schedule and dates are read (default UTC).", schemaString},
	{"start_date", "First logical date (YYYY-MM-DD or RFC 3339, read in timezone). Required when the DAG has a schedule.", schemaDate},
	{"end_date", "No run is scheduled after this date (YYYY-MM-DD or RFC 3339).", schemaDate},
	{"catchup", "Create the runs missed since start_date (default false, as in Airflow 3).", schemaBool},
	{"max_active_runs", "Maximum number of runs of this DAG in progress at once (default 16).", schemaPosInt},
	{"max_active_tasks", "Maximum number of task instances of this DAG running at once (default 16).", schemaPosInt},
	{"dagrun_timeout", "A run still going after this long is failed (duration; default none).", schemaDuration},
	{"default_args", "Scheduling settings every task inherits unless it sets its own.", map[string]any{"$ref": "#/$defs/default_args"}},
	{"params", "Run parameters: name -> default value, or {type, default, enum, description}. A trigger's conf overrides the defaults.",
		map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/param"}}},
	{"tags", "Labels for filtering in the UI and API.", map[string]any{"type": "array", "items": schemaString}},
	{"preflight", "Connections checked (`sirocco connections test`) before each try of the run's first tasks, those with no upstream task; a failed check fails that try at once with the report in its log (a connection id or a list of them).",
		map[string]any{"oneOf": []any{schemaID, map[string]any{"type": "array", "items": schemaID}}}},
	{"on_success_callback", "Notifiers called once when a run succeeds: {command}, {webhook} or {email}, or a list of them.", schemaNotifiers},
	{"on_failure_callback", "Notifiers called once when a run fails; templates see failed_tasks and reason.", schemaNotifiers},
	{"deadline", "Deadline alert (Airflow 3's DeadlineAlert): {reference: logical_date | run_start | queued_at, interval, callback}; the callback is called once if the run is not finished by reference + interval.",
		map[string]any{"$ref": "#/$defs/deadline"}},
	{"tasks", "The tasks of the DAG, in any order; dependencies are given with depends_on.",
		map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/task"}}},
	{"groups", "Task groups (Airflow's TaskGroup): tasks shown as one box, with prefixed ids (group.task) and their own default_args; a task may depend on a whole group.",
		map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/group"}}},
}

// groupKeys are the keys of a task group.
var groupKeys = []keyInfo{
	{"id", "Identifier of the group (letters, digits, '_', '-'); the ids of its tasks and groups are prefixed with it: group.task.", schemaGroupID},
	{"tooltip", "Text shown when hovering the group in the UI.", schemaString},
	{"prefix_group_id", "Prefix the ids of the group's tasks and groups with the group's id (default true, as in Airflow).", schemaBool},
	{"default_args", "Scheduling settings the group's tasks inherit, over the DAG's and enclosing groups' default_args.", map[string]any{"$ref": "#/$defs/default_args"}},
	{"depends_on", "Tasks or groups the group's first tasks (those with no upstream task in the group) depend on.", schemaDeps},
	{"tasks", "The tasks of the group; a depends_on inside names a sibling by its short id.",
		map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/task"}}},
	{"groups", "Nested task groups.", map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/group"}}},
}

// commonTaskKeys are the scheduling keys a task may set and inherit from
// default_args.
var commonTaskKeys = []keyInfo{
	{"trigger_rule", "When the task may run given its upstream tasks' states (default all_success).", map[string]any{"$ref": "#/$defs/trigger_rule"}},
	{"retries", "How many times a failed try is retried (default 0).", map[string]any{"type": "integer", "minimum": 0}},
	{"retry_delay", "Wait before a retry (duration; default 300s).", schemaDuration},
	{"retry_exponential_backoff", "Double the delay after each failed try.", schemaBool},
	{"max_retry_delay", "Upper bound of the retry delay with exponential backoff (duration).", schemaDuration},
	{"execution_timeout", "A try running longer than this is failed (duration; default none).", schemaDuration},
	{"pool", "Pool whose slots the task takes (default default_pool).", schemaString},
	{"pool_slots", "How many pool slots the task takes (default 1).", schemaPosInt},
	{"priority_weight", "Higher runs first when slots are scarce (default 1).", schemaInt},
	{"queue", "Queue of the workers that may run the task (default \"default\").", schemaString},
	{"env", "Environment variables for the task; values may be templated.", schemaEnv},
	{"executor_config", "Settings of the task's worker pod when it runs as a pod (Kubernetes executor): image, resources, node_selector, tolerations, labels, annotations.",
		map[string]any{"type": "object"}},
	{"depends_on_past", "Run only when this task succeeded or was skipped in the DAG's previous run (by logical date, of any type); the first run does not wait (Airflow's depends_on_past).", schemaBool},
	{"wait_for_downstream", "Implies depends_on_past, and also waits for the previous run's direct downstream tasks of this task to have succeeded or been skipped.", schemaBool},
	{"ignore_first_depends_on_past", "A run whose previous run has no instance of this task (the task is new) does not wait for it.", schemaBool},
	{"latest_only", "Skip this task in runs that are not the latest scheduled one (a catchup or backfill run); manual runs run it, as Airflow's LatestOnlyOperator.", schemaBool},

	{"on_success_callback", "Notifiers called once when a try succeeds: {command}, {webhook} or {email}, or a list of them (run outside the try; a failure is logged, never failing the task).", schemaNotifiers},
	{"on_failure_callback", "Notifiers called once when the task fails for good (no retry left); templates see reason and exception.", schemaNotifiers},
	{"on_retry_callback", "Notifiers called once when a try fails and the task is retried.", schemaNotifiers},
	{"on_execute_callback", "Notifiers called once when a try starts.", schemaNotifiers},
	{"deadline", "Deadline alert of each try: {reference: task_start, interval, callback}; the callback is called once if the try is not finished interval after it started.",
		map[string]any{"$ref": "#/$defs/task_deadline"}},
	{"preflight", "Check the connections the task uses (its conn_id, ssh_conn_id, ... fields) before each try, as `sirocco connections test` does; a failed check fails the try at once with the report in its log (retries apply).", schemaBool},
}

// taskOnlyKeys are the keys only a task (not default_args) may set.
var taskOnlyKeys = []keyInfo{
	{"id", "Unique identifier of the task in the DAG (letters, digits, '_', '.', '-').", schemaID},
	{"operator", "What the task does; its own fields follow.", schemaString},
	{"outlets", "Assets a success of the task updates (Airflow's outlets): asset URIs or {uri, extra} mappings; each success records one asset event per outlet, which DAGs scheduled on the asset consume.", schemaAssetRefs},
	{"inlets", "Assets the task reads (Airflow's inlets): asset URIs or {uri, extra} mappings; shown, not used for scheduling.", schemaAssetRefs},
	{"depends_on", "Tasks that must finish first (a task id or a list of them); naming a task group means all its last tasks (those with no downstream task in the group).", schemaDeps},
	{"expand", "Dynamic task mapping (Airflow's expand): operator field -> a list, or {xcom: task_id, key: ...} an upstream task's XCom list; one task instance per element (several fields: their cross product). Zero elements skip the task; more than max_map_length fail it.",
		map[string]any{"type": "object", "minProperties": 1, "additionalProperties": map[string]any{"$ref": "#/$defs/map_source"}}},
	{"expand_kwargs", "Dynamic task mapping over mappings of fields (Airflow's expand_kwargs): a list of {field: value} mappings, or {xcom: task_id, key: ...} an upstream task's XCom list of them.",
		map[string]any{"$ref": "#/$defs/map_source"}},
	{"max_active_tis_per_dag", "Maximum number of instances of this task (a mapped task's included) queued or running at once across all runs of the DAG.", schemaPosInt},
}

// paramKeys are the keys of a param given as an object.
var paramKeys = []keyInfo{
	{"type", "JSON type of the value: string, integer, number, boolean, array or object.",
		map[string]any{"enum": []any{"string", "integer", "number", "boolean", "array", "object"}}},
	{"default", "Value used when the trigger's conf does not set this param.", map[string]any{}},
	{"enum", "The only values allowed.", map[string]any{"type": "array"}},
	{"description", "Shown in the trigger form.", schemaString},
}

// paramTypes are the accepted values of a param's type.
var paramTypes = []string{"string", "integer", "number", "boolean", "array", "object"}

// maxIDLen is Airflow's limit on dag and task ids.
const maxIDLen = 250

// Defaults, as in Airflow.
const (
	defaultMaxActive  = 16
	defaultRetryDelay = 300 // seconds
	defaultQueue      = "default"
)

func keyNames(lists ...[]keyInfo) []string {
	var out []string
	for _, l := range lists {
		for _, k := range l {
			out = append(out, k.name)
		}
	}
	return out
}

var (
	topKeyNames         = keyNames(topKeys)
	defaultArgsKeyNames = keyNames(commonTaskKeys)
	taskKeyNames        = keyNames(taskOnlyKeys, commonTaskKeys)
	paramKeyNames       = keyNames(paramKeys)
	groupKeyNames       = keyNames(groupKeys)
)
