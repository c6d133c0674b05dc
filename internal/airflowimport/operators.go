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
	// "short_circuit" says how it is called.
	Callable string
	// Feature and Rewrite explain an operator Sirocco cannot run yet.
	Feature, Rewrite string
}

const (
	rewriteBashOrPython = "rewrite it as a bash or python task"
	rewriteSensor       = "rewrite it as a bash or python task that checks once and fails until the condition holds, with retries and retry_delay as the poke interval"
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
	"task.sensor":          {Feature: "sensors (@task.sensor)", Rewrite: rewriteSensor},
	"task.docker":          {Feature: "@task.docker", Rewrite: "rewrite it as a kubernetes_pod task or a bash task running docker"},
	"task.kubernetes":      {Feature: "@task.kubernetes", Rewrite: "rewrite it as a kubernetes_pod task"},
}

// sensorRule is the rule of every class the shim marks as a sensor.
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
	"on_failure_callback":            {Feature: "callbacks", Rewrite: "add a task with trigger_rule: one_failed that notifies"},
	"on_success_callback":            {Feature: "callbacks", Rewrite: "add a final task that notifies"},
	"on_retry_callback":              {Feature: "callbacks", Rewrite: "remove it"},
	"on_execute_callback":            {Feature: "callbacks", Rewrite: "move the work into the task"},
	"on_skipped_callback":            {Feature: "callbacks", Rewrite: "remove it"},
	"sla_miss_callback":              {Feature: "SLAs", Rewrite: "use dagrun_timeout or execution_timeout"},
	"sla":                            {Feature: "SLAs", Rewrite: "use execution_timeout"},
	"outlets":                        {Feature: "assets (outlets)", Rewrite: "trigger the consumer DAG from a final bash task with `sirocco dags trigger`"},
	"inlets":                         {Feature: "assets (inlets)", Rewrite: "remove it"},
	"owner":                          {Quiet: true, Rewrite: "Sirocco has no task owners; put it in the DAG's description or tags"},
	"email":                          {Rewrite: "Sirocco sends no e-mail; add a task with trigger_rule: one_failed that notifies"},
	"email_on_failure":               {Rewrite: "Sirocco sends no e-mail; add a task with trigger_rule: one_failed that notifies"},
	"email_on_retry":                 {Quiet: true, Rewrite: "Sirocco sends no e-mail"},
	"doc":                            {Quiet: true, Rewrite: "task docs are not kept; use a YAML comment"},
	"doc_md":                         {Quiet: true, Rewrite: "docs are not kept; use a YAML comment or the description"},
	"doc_rst":                        {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"doc_json":                       {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"doc_yaml":                       {Quiet: true, Rewrite: "docs are not kept; use a YAML comment"},
	"task_display_name":              {Quiet: true, Rewrite: "display names are not kept"},
	"dag_display_name":               {Quiet: true, Rewrite: "display names are not kept"},
	"weight_rule":                    {Rewrite: "Sirocco's priority_weight is the task's own (absolute)"},
	"max_active_tis_per_dag":         {Rewrite: "use a pool with that many slots"},
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
	"map_index_template":             {Feature: "dynamic task mapping", Rewrite: "remove it"},
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
	"poke_interval": true, "startup_timeout_seconds": false}

// triggerRules maps Airflow's deprecated or absent trigger rules.
var triggerRules = map[string]string{
	"none_failed_or_skipped": "none_failed_min_one_success",
	"dummy":                  "always",
}
