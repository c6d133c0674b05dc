package kubernetes

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/kube"
)

// tryIdentity names the try a pod runs.
type tryIdentity struct {
	DagID, RunID, TaskID string
	Try                  int
	Map                  int // map index + 1 of a mapped task's instance
}

func (id tryIdentity) labels() map[string]string {
	return kube.MapLabel(kube.TryLabels(id.DagID, id.TaskID, id.RunID, id.Try), id.Map)
}

// buildPod is the pod of a try: the task's fields, the try's labels (which
// win over the task's labels of the same keys), restartPolicy Never, and
// the environment layered as for other operators (the task's env, then
// env_vars, then SIROCCO_CTX_*).
func buildPod(c config, id tryIdentity, name, namespace string, taskEnv, ctxEnv map[string]string) *corev1.Pod {
	labels := maps.Clone(c.labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, id.labels())
	ctr := corev1.Container{
		Name: c.container, Image: c.image, Command: c.cmds, Args: c.args, ImagePullPolicy: c.pullPol,
		Env: layerEnv(taskEnv, c.env, ctxEnv), EnvFrom: c.envFrom, Resources: c.resources, VolumeMounts: c.mounts,
		Ports: c.ports, SecurityContext: c.contSec, TerminationMessagePolicy: c.termPol,
	}
	if c.xcom {
		ctr.TerminationMessagePath = XComPath
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, Annotations: c.annots},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{ctr}, InitContainers: c.inits, RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector: c.nodeSel, Affinity: c.affinity, Tolerations: c.tolers, Volumes: c.volumes,
			ImagePullSecrets: c.pullSecs, ServiceAccountName: c.sa, AutomountServiceAccountToken: c.automount,
			HostNetwork: c.hostNet, Hostname: c.hostname, Subdomain: c.subdomain, DNSPolicy: c.dnsPolicy,
			SchedulerName: c.scheduler, PriorityClassName: c.priority, SecurityContext: c.podSec,
			ActiveDeadlineSeconds: c.activeDeadline, TerminationGracePeriodSeconds: c.termGrace,
		},
	}
}

// layerEnv merges the task's env, env_vars and SIROCCO_CTX_* (later layers
// win, keeping the first position of a name): plain values sorted by name
// within a mapping layer, env_vars in its own order.
func layerEnv(taskEnv map[string]string, vars []corev1.EnvVar, ctxEnv map[string]string) []corev1.EnvVar {
	var out []corev1.EnvVar
	at := map[string]int{}
	put := func(e corev1.EnvVar) {
		if i, ok := at[e.Name]; ok {
			out[i] = e
			return
		}
		at[e.Name] = len(out)
		out = append(out, e)
	}
	for _, k := range slices.Sorted(maps.Keys(taskEnv)) {
		put(corev1.EnvVar{Name: k, Value: taskEnv[k]})
	}
	for _, e := range vars {
		put(e)
	}
	for _, k := range slices.Sorted(maps.Keys(ctxEnv)) {
		put(corev1.EnvVar{Name: k, Value: ctxEnv[k]})
	}
	return out
}
