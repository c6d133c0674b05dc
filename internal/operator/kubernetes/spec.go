// Package kubernetes is Airflow's KubernetesPodOperator: a task runs as
// one pod, created with client-go from the task's fields (Airflow's names
// and spellings, the seed's Example 2 as written), labelled with its
// dag, task, run and try, and followed to its end.
//
//	Execute: read the fields → reach the cluster (kubernetes connection)
//	  → a pod of this try already there (reattach_on_restart)? follow it
//	  → store the handle (namespace, name) → create the pod (a lost answer
//	    finds it by name: never a second pod) → store its UID
//	  → track: a watch resumed from the last resourceVersion
//	     ├ container started → stream its log into the try's log
//	     ├ image pull error → fail with the reason, delete the pod
//	     ├ not scheduled / not started in time → fail with the
//	     │  condition's message and the pod's Warning events, delete it
//	     ├ ended → phase + exit code decide (skip_on_exit_code), the
//	     │  result is stored in the handle, then on_finish_action
//	     ├ deleted by someone else → fail saying so
//	     ├ ErrDetach (shutdown) → leave the pod running, handle stored
//	     └ cancel, clear, execution_timeout → delete (grace, then force)
//	Resume (after a restart): find the pod by the stored name, else by the
//	  try's labels, and track it the same way; Stop: delete it, bounded.
//
// do_xcom_push reads the container's termination message, which the pod
// spec points at /airflow/xcom/return.json (Airflow's file): no sidecar,
// no exec, at most 4 KiB (the kubelet's limit).
package kubernetes

import (
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// on_finish_action values (Airflow's).
const (
	DeletePod          = "delete_pod"
	DeleteSucceededPod = "delete_succeeded_pod"
	KeepPod            = "keep_pod"
)

var onFinishActions = []string{DeletePod, DeleteSucceededPod, KeepPod}

// Defaults, Airflow's.
const (
	defaultStartupTimeout = 120 // seconds
	defaultContainer      = "base"
)

// XComPath is where a container writes its result for do_xcom_push, as
// in Airflow; Sirocco reads it back as the container's termination
// message.
const XComPath = "/airflow/xcom/return.json"

// Spec declares the operator's fields, with Airflow's KubernetesPodOperator
// names; Templated follows Airflow's template_fields.
var Spec = dag.OperatorSpec{
	Name: "kubernetes_pod",
	Description: "Run a task as a Kubernetes pod (Airflow's KubernetesPodOperator): created with its dag, task, run and try " +
		"as labels, its container's log streamed into the task log, its phase and exit code deciding the outcome; " +
		"deleted on cancel or timeout, reattached after a restart.",
	Fields: []dag.FieldSpec{
		{Name: "kubernetes_conn_id", Kind: dag.FieldString, Default: kube.DefaultConnID, Templated: true,
			Description: "id of a kubernetes connection; kubernetes_default, when no such connection exists, uses the in-cluster configuration, else $KUBECONFIG or ~/.kube/config"},
		{Name: "namespace", Kind: dag.FieldString, Templated: true,
			Description: "namespace of the pod; default: the connection's, else the kubeconfig context's or the service account's, else default"},
		{Name: "image", Kind: dag.FieldString, Required: true, Templated: true, Description: "container image"},
		{Name: "name", Kind: dag.FieldString, Templated: true,
			Description: "pod name (letters, digits, '_', '.' and '-'; lower-cased, every run of other than a-z, 0-9 and '-' becomes '-'), plus a random suffix; default: the task id"},
		{Name: "random_name_suffix", Kind: dag.FieldBool, Default: true, Description: "add '-' and 8 random characters to the pod name"},
		{Name: "cmds", Kind: dag.FieldStringList, Templated: true, Description: "the container's entrypoint; default: the image's"},
		{Name: "arguments", Kind: dag.FieldStringList, Templated: true, Description: "the entrypoint's arguments; default: the image's CMD"},
		{Name: "env_vars", Kind: dag.FieldAny, Templated: true,
			Description: "environment: a mapping name: value, or a list of Kubernetes EnvVar ({name, value} or {name, value_from: {secret_key_ref|config_map_key_ref|field_ref: ...}})"},
		{Name: "env_from", Kind: dag.FieldAny, Templated: true, Description: "list of Kubernetes EnvFromSource ({config_map_ref: {name}} or {secret_ref: {name}})"},
		{Name: "configmaps", Kind: dag.FieldStringList, Description: "config maps whose keys become environment variables"},
		{Name: "secrets", Kind: dag.FieldAny,
			Description: "Airflow Secret objects: list of {deploy_type: env|volume, deploy_target, secret, key}"},
		{Name: "container_resources", Kind: dag.FieldAny, Templated: true,
			Description: "requests and limits: {requests: {cpu, memory}, limits: {...}} or Airflow's {request_cpu, request_memory, limit_cpu, limit_memory, limit_gpu, ...}"},
		{Name: "resources", Kind: dag.FieldAny, Templated: true, Description: "Airflow's older name of container_resources (either spelling)"},
		{Name: "image_pull_policy", Kind: dag.FieldString, Description: "Always, IfNotPresent or Never; default: Kubernetes'"},
		{Name: "image_pull_secrets", Kind: dag.FieldAny,
			Description: "secrets to pull the image: a list of names, a list of {name: ...}, or names separated by commas"},
		{Name: "labels", Kind: dag.FieldStringMap, Templated: true, Description: "labels of the pod, beside dag_id, task_id, run_id and try_number"},
		{Name: "annotations", Kind: dag.FieldStringMap, Templated: true, Description: "annotations of the pod"},
		{Name: "node_selector", Kind: dag.FieldStringMap, Templated: true, Description: "node labels the pod must run on"},
		{Name: "affinity", Kind: dag.FieldAny, Description: "Kubernetes Affinity (snake_case or camelCase keys)"},
		{Name: "tolerations", Kind: dag.FieldAny, Description: "list of Kubernetes Tolerations"},
		{Name: "volumes", Kind: dag.FieldAny, Templated: true, Description: "list of Kubernetes Volumes"},
		{Name: "volume_mounts", Kind: dag.FieldAny, Templated: true, Description: "list of Kubernetes VolumeMounts of the container"},
		{Name: "ports", Kind: dag.FieldAny, Description: "list of Kubernetes ContainerPorts"},
		{Name: "init_containers", Kind: dag.FieldAny, Description: "list of Kubernetes Containers run before the base container"},
		{Name: "security_context", Kind: dag.FieldAny, Description: "Kubernetes PodSecurityContext"},
		{Name: "container_security_context", Kind: dag.FieldAny, Description: "Kubernetes SecurityContext of the container"},
		{Name: "service_account_name", Kind: dag.FieldString, Description: "service account of the pod"},
		{Name: "automount_service_account_token", Kind: dag.FieldBool, Description: "mount the service account's token; default: Kubernetes'"},
		{Name: "hostnetwork", Kind: dag.FieldBool, Default: false, Description: "use the node's network namespace"},
		{Name: "hostname", Kind: dag.FieldString, Templated: true, Description: "hostname of the pod"},
		{Name: "subdomain", Kind: dag.FieldString, Description: "subdomain of the pod"},
		{Name: "dnspolicy", Kind: dag.FieldString, Description: "DNS policy of the pod"},
		{Name: "schedulername", Kind: dag.FieldString, Description: "scheduler of the pod"},
		{Name: "priority_class_name", Kind: dag.FieldString, Description: "priority class of the pod"},
		{Name: "base_container_name", Kind: dag.FieldString, Default: defaultContainer, Templated: true,
			Description: "name of the container: its log and exit code are the task's"},
		{Name: "termination_message_policy", Kind: dag.FieldString, Default: "File", Description: "File or FallbackToLogsOnError"},
		{Name: "startup_timeout_seconds", Kind: dag.FieldInt, Default: defaultStartupTimeout,
			Description: "fail when the pod does not start this long after it was scheduled (image pull errors fail at once)"},
		{Name: "schedule_timeout_seconds", Kind: dag.FieldInt,
			Description: "fail when the pod is not scheduled this long after its creation; default: startup_timeout_seconds"},
		{Name: "active_deadline_seconds", Kind: dag.FieldInt, Description: "the pod's activeDeadlineSeconds: Kubernetes fails it after this long"},
		{Name: "termination_grace_period", Kind: dag.FieldInt,
			Description: "seconds between SIGTERM and SIGKILL when the pod is deleted (its terminationGracePeriodSeconds, and the grace of a cancel); default: Kubernetes' for the pod, Sirocco's kill_grace for a cancel"},
		{Name: "on_finish_action", Kind: dag.FieldString, Default: DeletePod,
			Description: "what to do with a pod that ended: delete_pod, delete_succeeded_pod or keep_pod (a pod given up on before it ended is always deleted)"},
		{Name: "is_delete_operator_pod", Kind: dag.FieldBool, Description: "Airflow's older switch: true is on_finish_action delete_pod, false keep_pod"},
		{Name: "get_logs", Kind: dag.FieldBool, Default: true, Description: "stream the container's log into the task log"},
		{Name: "do_xcom_push", Kind: dag.FieldBool, Default: false,
			Description: "push the JSON the container wrote to " + XComPath + " (its termination message, at most 4 KiB) as return_value"},
		{Name: "skip_on_exit_code", Kind: dag.FieldIntList, Default: []int{}, Description: "exit codes of the container that mark the task skipped"},
		{Name: "reattach_on_restart", Kind: dag.FieldBool, Default: true,
			Description: "after a restart of Sirocco, follow the try's pod again; false: it is deleted and the try runs again"},
		{Name: "in_cluster", Kind: dag.FieldBool, Description: "use the in-cluster configuration, whatever the connection says"},
		{Name: "cluster_context", Kind: dag.FieldString, Templated: true, Description: "kubeconfig context, instead of the connection's"},
		{Name: "config_file", Kind: dag.FieldString, Templated: true, Description: "kubeconfig file, instead of the connection's"},
		{Name: "log_events_on_failure", Kind: dag.FieldBool, Default: true,
			Description: "write the pod's Warning events into the task log when it fails"},
	},
}

// Factory registers the operator and the recoverer of its handles.
var Factory = operator.Factory{Spec: Spec, New: func() operator.Operator { return Operator{} }, Recoverer: Recoverer{}}
