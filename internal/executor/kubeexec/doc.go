// Package kubeexec is the Kubernetes executor (Airflow's
// KubernetesExecutor): every try it is handed runs as its own worker pod,
// whose one container runs `sirocco tasks run DAG RUN TASK --try N`
// against the same store.
//
// A try's life, each arrow one conditional write or one API call:
//
//	scheduler: claim (running, try N, this scheduler's worker, the
//	           worker pod's handle: namespace and name, chosen now)
//	        -> create the pod (a lost answer finds it by name)
//	        -> watch it (a resumable watch, no polling) and follow its
//	           container's log into the try's log file
//	pod:       take the try over (running try N → the pod's worker),
//	           run it as the local executor would, heartbeat, record
//	           the outcome
//	scheduler: the pod ended: an outcome is recorded → done; none → the
//	           try is given back as an infrastructure failure (run again
//	           without spending a retry, up to the cap), the pod's reason
//	           in the try's log; then the pod is deleted (or kept, on
//	           failure, as configured)
//
// Kill (run timeout) records the failure first, then deletes the pod;
// a try cleared or marked elsewhere has its pod deleted. After a restart
// the executor reattaches to the pod of every live try by the handle
// (never creating a second one; a handle stored before the create
// answered whose pod does not exist is created then, under the same name),
// and deletes running worker pods that no live try names.
package kubeexec
