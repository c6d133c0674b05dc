package airflowimport

// opRule says how one Airflow operator class becomes a Sirocco task. Adding
// an operator (or, once Sirocco has them, sensors) is one entry here.
type opRule struct {
	// Operator is Sirocco's operator; "" when there is none yet.
	Operator string
	// Renames maps Airflow argument names to Sirocco field names; other
	// arguments keep their names and are kept when the operator has that
	// field.
	Renames map[string]string
	// Callable: python_callable (or the @task function) becomes a function
	// of the generated <dag>_callables.py module; "python", "branch" or
	// "short_circuit" says how it is called ("sensor": by a bash_sensor).
	Callable string
	// Feature and Rewrite explain an operator Sirocco cannot run yet.
	Feature, Rewrite string
}

const (
	rewriteBashOrPython = "rewrite it as a bash or python task"
	rewriteSensor       = "rewrite it as a bash_sensor whose command checks once and exits 0 when the condition holds (or use " +
		"file_sensor, http_sensor, external_task_sensor, time_delta_sensor, date_time_sensor), keeping poke_interval, timeout and mode"
)

var bashRenames = map[string]string{"bash_command": "command"}

// operatorRules maps Airflow class names (wherever they are imported from:
// airflow.operators.*, airflow.providers.standard.*, ...) to Sirocco.
var operatorRules = map[string]opRule{
	"BashOperator":          {Operator: "bash", Renames: bashRenames},
	"EmptyOperator":         {Operator: "empty"},
	"DummyOperator":         {Operator: "empty"},
	"PythonOperator":        {Operator: "python", Callable: "python"},
	"BranchPythonOperator":  {Operator: "branch", Callable: "branch"},
	"ShortCircuitOperator":  {Operator: "short_circuit", Callable: "short_circuit"},
	"SparkSubmitOperator":   {Operator: "spark_submit"},
	"SSHOperator":           {Operator: "ssh"},
	"KubernetesPodOperator": {Operator: "kubernetes_pod"},
	"HttpOperator":          {Operator: "http"},
	"SimpleHttpOperator":    {Operator: "http"},
	"LatestOnlyOperator":    {Operator: "latest_only"},
	// Airflow 2's execution_date is Airflow 3's logical_date.
	"TriggerDagRunOperator": {Operator: "trigger_dag", Renames: map[string]string{"execution_date": "logical_date"}},
	// Sensors: the shared BaseSensorOperator fields are each sensor's fields.
	"FileSensor":              {Operator: "file_sensor"},
	"BashSensor":              {Operator: "bash_sensor", Renames: bashRenames},
	"HttpSensor":              {Operator: "http_sensor", Renames: map[string]string{"request_params": "data"}},
	"ExternalTaskSensor":      {Operator: "external_task_sensor"},
	"ExternalTaskSensorAsync": {Operator: "external_task_sensor"},
	"TimeDeltaSensor":         {Operator: "time_delta_sensor"},
	"TimeDeltaSensorAsync":    {Operator: "time_delta_sensor"},
	"DateTimeSensor":          {Operator: "date_time_sensor"},
	"DateTimeSensorAsync":     {Operator: "date_time_sensor"},
	// The function runs once per poke, from a bash_sensor's command.
	"PythonSensor": {Operator: "bash_sensor", Callable: "sensor"},
	"TimeSensor":   {Feature: "TimeSensor", Rewrite: "write a date_time_sensor with target_time: \"{{ ds }}T<HH:MM:SS>Z\" (the time of day on the run's date)"},
	"BranchDayOfWeekOperator": {Feature: "BranchDayOfWeekOperator",
		Rewrite: "rewrite it as a branch task whose command prints the task to follow"},
	"BranchDateTimeOperator": {Feature: "BranchDateTimeOperator",
		Rewrite: "rewrite it as a branch task whose command prints the task to follow"},
	"PythonVirtualenvOperator": {Feature: "PythonVirtualenvOperator",
		Rewrite: "rewrite it as a python task with `python:` naming the virtualenv's interpreter"},
	"ExternalPythonOperator": {Feature: "ExternalPythonOperator",
		Rewrite: "rewrite it as a python task with `python:` naming that interpreter"},
}

// decoratorRules maps @task variants to the rule of the operator they make.
var decoratorRules = map[string]opRule{
	"task":               operatorRules["PythonOperator"],
	"task.python":        operatorRules["PythonOperator"],
	"task.branch":        operatorRules["BranchPythonOperator"],
	"task.short_circuit": operatorRules["ShortCircuitOperator"],
	"task.bash": {Feature: "@task.bash",
		Rewrite: "rewrite it as a bash task whose command is what the function returns (templates work in it)"},
	"task.virtualenv":      operatorRules["PythonVirtualenvOperator"],
	"task.external_python": operatorRules["ExternalPythonOperator"],
	"task.sensor":          operatorRules["PythonSensor"],
	"task.docker":          {Feature: "@task.docker", Rewrite: "rewrite it as a kubernetes_pod task or a bash task running docker"},
	"task.kubernetes":      {Feature: "@task.kubernetes", Rewrite: "rewrite it as a kubernetes_pod task"},
}

// sensorRule is the rule of a sensor class Sirocco has no operator for.
var sensorRule = opRule{Feature: "sensors", Rewrite: rewriteSensor}

// kwargRule says what happens to an argument no operator field takes.
type kwargRule struct {
	// Feature is set for what Sirocco cannot do yet: "not supported by this
	// version: <Feature>; <Rewrite>".
	Feature string
	// Rewrite is the suggestion.
	Rewrite string
	// Quiet arguments are Airflow bookkeeping with no effect on a run;
	// they are listed once, as a note.
	Quiet bool
}

// kwargRules cover Airflow's BaseOperator and DAG arguments that have no
// Sirocco key.
var kwargRules = map[string]kwargRule{
	"sla_miss_callback":              {Feature: "SLAs (sla_miss_callback)", Rewrite: "alert when a run is late with the DAG's deadline: {reference: logical_date, interval: ..., callback: ...}"},
	"outlets":                        {Rewrite: "outlets are a task's, not default_args': set them on each task"},
	"inlets":                         {Rewrite: "inlets are a task's, not default_args': set them on each task"},
	"execution_date_fn":              {Rewrite: "write execution_date: a template giving the watched run's logical date, e.g. \"{{ macros.ds_add(ds, -1) }}\""},
	"check_existence":                {Rewrite: "Sirocco's external_task_sensor waits while the DAG or task does not exist (it does not fail at once)"},
	"external_task_group_id":         {Rewrite: "list the group's tasks in external_task_ids"},
	"skip_when_already_exists":       {Rewrite: "not supported"},
	"silent_fail":                    {Rewrite: "not supported: an error of a poke fails the try"},
	"on_skipped_callback":            {Rewrite: "Sirocco calls no notifier when a task is skipped"},
	"owner":                          {Quiet: true, Rewrite: "Sirocco has no task owners; put it in the DAG's description or tags"},
	"doc":                            {Quiet: true, Rewrite: "task docs are not kept; use a YAML comment"},
	"doc_md":                         {Quiet: true, Rewrite: "docs are not kept; use a YAML comment or the description"},
	"doc_rst":                        {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"doc_json":                       {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"doc_yaml":                       {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"task_display_name":              {Quiet: true, Rewrite: "display names are not kept"},
	"dag_display_name":               {Quiet: true, Rewrite: "display names are not kept"},
	"weight_rule":                    {Rewrite: "Sirocco's priority_weight is the task's own (absolute)"},
	"max_active_tis_per_dagrun":      {Rewrite: "use a pool with that many slots"},
	"provide_context":                {Quiet: true, Rewrite: "context values are passed by name, as in Airflow 2"},
	"templates_exts":                 {Rewrite: "template files are not read; put the script in `script:` or the command"},
	"template_searchpath":            {Rewrite: "template files are not read"},
	"user_defined_macros":            {Rewrite: "Sirocco's templates have a fixed set of macros"},
	"user_defined_filters":           {Rewrite: "Sirocco's templates have a fixed set of filters"},
	"render_template_as_native_obj":  {Rewrite: "templates render to strings"},
	"is_paused_upon_creation":        {Rewrite: "pause it with `sirocco dags pause`"},
	"access_control":                 {Rewrite: "use Sirocco's roles (see Users and roles)"},
	"owner_links":                    {Quiet: true, Rewrite: "not kept"},
	"fail_stop":                      {Rewrite: "not supported"},
	"fail_fast":                      {Rewrite: "not supported"},
	"jinja_environment_kwargs":       {Rewrite: "Sirocco's template engine is fixed"},
	"default_view":                   {Quiet: true, Rewrite: "not kept"},
	"orientation":                    {Quiet: true, Rewrite: "not kept"},
	"executor":                       {Rewrite: "the executor is Sirocco's configuration, not the task's"},
	"run_as_user":                    {Rewrite: "tasks run as Sirocco's user"},
	"resources":                      {Rewrite: "use pool_slots"},
	"do_xcom_push":                   {Rewrite: "not kept for this operator"},
	"multiple_outputs":               {Rewrite: "not kept for this operator"},
	"remote_host":                    {Rewrite: "put the host in the ssh connection named by ssh_conn_id"},
	"map_index_template":             {Rewrite: "Sirocco names a mapped task's instances by map_index only; remove it"},
	"deferrable":                     {Rewrite: "Sirocco has no triggerer: a waiting task keeps its worker slot (see the operator's poke_interval)"},
	"retry_args":                     {Rewrite: "use retries_on_5xx and retry_backoff (retry_non_idempotent: true to repeat a POST or PATCH), or the task's retries"},
	"openlineage_inject_parent_info": {Quiet: true, Rewrite: "Sirocco has no OpenLineage"},
	"extra_options":                  {Rewrite: "set timeout, tls_verify, ca_bundle or allow_redirects on the task"},
}

// commonKeys are the task keys every Sirocco operator has, in output order,
// that Airflow spells the same.
var commonKeys = []string{"trigger_rule", "retries", "retry_delay", "retry_exponential_backoff",
	"max_retry_delay", "execution_timeout", "pool", "pool_slots", "priority_weight", "queue", "env",
	"executor_config", "depends_on_past", "wait_for_downstream", "ignore_first_depends_on_past", "latest_only"}

// durationKeys take a timedelta (or seconds).
var durationKeys = map[string]bool{"retry_delay": true, "max_retry_delay": true, "execution_timeout": true,
	"dagrun_timeout": true, "cmd_timeout": true, "timeout": true, "status_poll_interval": true,
	"poke_interval": true, "startup_timeout_seconds": false, "delta": true, "execution_delta": true, "max_wait": true}

// triggerRules maps Airflow's deprecated or absent trigger rules.
var triggerRules = map[string]string{
	"none_failed_or_skipped": "none_failed_min_one_success",
	"dummy":                  "always",
}
