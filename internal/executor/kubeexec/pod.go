package kubeexec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// Labels and annotations of worker pods.
const (
	// LabelWorkerPod marks a worker pod (Airflow's kubernetes_executor
	// label), with kube.LabelManagedBy.
	LabelWorkerPod = "kubernetes_executor"
	// annotationPrefix starts the annotations holding the try's exact ids
	// (labels hold them made safe, maybe cut).
	annotationPrefix = "sirocco.dev/"
	// BaseContainer is the worker container's name (Airflow's).
	BaseContainer = "base"
)

// WorkerPodSelector selects every worker pod Sirocco started.
var WorkerPodSelector = kube.Selector(map[string]string{LabelWorkerPod: "True", kube.LabelManagedBy: kube.ManagedBy})

// LoadPodTemplate reads a pod template file (Airflow's pod_template_file):
// a Pod in YAML or JSON, every field checked against the API's, so a
// misspelt field is an error naming it rather than silently dropped.
func LoadPodTemplate(path string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubernetes_executor.pod_template_file: %w", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("kubernetes_executor.pod_template_file %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var pod corev1.Pod
	if err := dec.Decode(&pod); err != nil {
		return nil, fmt.Errorf("kubernetes_executor.pod_template_file %s: not a pod: %w", path, err)
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return nil, fmt.Errorf("kubernetes_executor.pod_template_file %s: kind %q, expected Pod", path, pod.Kind)
	}
	return &pod, nil
}

// podParams is what a worker pod is made of besides the template.
type podParams struct {
	handle    Handle
	key       store.TaskKey
	try       int
	image     string            // the executor's image ("" keeps the template's)
	env       map[string]string // set unless the template's container sets them
	secret    string            // the Secret secretEnv reads from
	secretEnv []string          // read from secret unless the template's container sets them
	override  ExecutorConfig
}

// buildPod makes a try's worker pod: the template (or an empty pod), its
// worker container (named base, else the first) given the image and the
// command `sirocco tasks run`, the executor's environment where the
// template sets none, the task's executor_config over both, and the try's
// labels and annotations over everything.
func buildPod(template *corev1.Pod, p podParams) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if template != nil {
		pod = template.DeepCopy()
	}
	pod.TypeMeta = corev1.Pod{}.TypeMeta
	pod.Name, pod.GenerateName, pod.Namespace = p.handle.Name, "", p.handle.Namespace
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	ctr := workerContainer(pod)
	if p.image != "" {
		ctr.Image = p.image
	}
	if p.override.Image != "" {
		ctr.Image = p.override.Image
	}
	if ctr.Image == "" {
		return nil, fmt.Errorf("worker pod of %s: no image (kubernetes_executor.image, the pod template's %s container, or executor_config.image)", p.key.TaskID, ctr.Name)
	}
	ctr.Command = []string{"sirocco", "tasks", "run", p.key.DagID, p.key.RunID, p.key.TaskID, "--try", strconv.Itoa(p.try)}
	if p.key.Mapped() {
		ctr.Command = append(ctr.Command, "--map-index", strconv.Itoa(p.key.MapIndex()))
	}
	ctr.Args = nil
	ctr.Env = withSecretEnv(withEnv(ctr.Env, p.env), p.secret, p.secretEnv)
	mergeResources(&ctr.Resources, p.override.Resources)
	if len(p.override.NodeSelector) > 0 {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		maps.Copy(pod.Spec.NodeSelector, p.override.NodeSelector)
	}
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, p.override.Tolerations...)
	pod.Labels = merged(pod.Labels, p.override.Labels, tryLabels(p.key, p.try))
	ids := map[string]string{
		annotationPrefix + "dag-id": p.key.DagID, annotationPrefix + "run-id": p.key.RunID,
		annotationPrefix + "task-id": p.key.TaskID, annotationPrefix + "try-number": strconv.Itoa(p.try),
	}
	if p.key.Mapped() {
		ids[annotationPrefix+"map-index"] = strconv.Itoa(p.key.MapIndex())
	}
	pod.Annotations = merged(pod.Annotations, p.override.Annotations, ids)
	return pod, nil
}

// tryLabels are the labels of a try's worker pod.
func tryLabels(k store.TaskKey, try int) map[string]string {
	return kube.MapLabel(map[string]string{
		kube.LabelDagID: kube.SafeLabelValue(k.DagID), kube.LabelTaskID: kube.SafeLabelValue(k.TaskID),
		kube.LabelRunID: kube.SafeLabelValue(k.RunID), kube.LabelTryNumber: strconv.Itoa(try),
		LabelWorkerPod: "True", kube.LabelManagedBy: kube.ManagedBy,
	}, k.Map)
}

// workerContainer returns the pod's worker container (base, else the
// first), adding one named base to a pod that has none.
func workerContainer(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == BaseContainer {
			return &pod.Spec.Containers[i]
		}
	}
	if len(pod.Spec.Containers) == 0 {
		pod.Spec.Containers = []corev1.Container{{Name: BaseContainer}}
	}
	return &pod.Spec.Containers[0]
}

// withEnv adds the variables of add that env does not set (sorted, for a
// stable spec).
func withEnv(env []corev1.EnvVar, add map[string]string) []corev1.EnvVar {
	set := map[string]bool{}
	for _, e := range env {
		set[e.Name] = true
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		if !set[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, corev1.EnvVar{Name: k, Value: add[k]})
	}
	return env
}

func mergeResources(dst *corev1.ResourceRequirements, src corev1.ResourceRequirements) {
	if len(src.Requests) > 0 {
		if dst.Requests == nil {
			dst.Requests = corev1.ResourceList{}
		}
		maps.Copy(dst.Requests, src.Requests)
	}
	if len(src.Limits) > 0 {
		if dst.Limits == nil {
			dst.Limits = corev1.ResourceList{}
		}
		maps.Copy(dst.Limits, src.Limits)
	}
}

// merged layers maps, later ones winning.
func merged(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		maps.Copy(out, l)
	}
	return out
}

// TemplateSets reports whether the pod template's worker container sets
// the environment variable name (from a Secret, say).
func (x *Executor) TemplateSets(name string) bool {
	if x.template == nil {
		return false
	}
	for _, e := range workerContainer(x.template.DeepCopy()).Env {
		if e.Name == name {
			return true
		}
	}
	return false
}
