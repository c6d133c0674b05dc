package kubeexec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/sirocco-dev/sirocco/internal/store"
)

func yamlMap(t testing.TB, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParseExecutorConfig: each field read, each mistake an error naming
// its field and what was expected.
func TestParseExecutorConfig(t *testing.T) {
	good := yamlMap(t, `
image: img:1
resources: {request_cpu: 250m, limit_memory: 1Gi, requests: {nvidia.com/gpu: 1}}
node_selector: {disktype: ssd}
tolerations: [{key: k, operator: Exists, effect: NoExecute, toleration_seconds: 30}]
labels: {team: data}
annotations: {note: "x", n: 1}
`)
	c, err := ParseExecutorConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "img:1" || c.Resources.Requests.Cpu().String() != "250m" || c.Resources.Limits.Memory().String() != "1Gi" ||
		c.Resources.Requests.Name("nvidia.com/gpu", "").String() != "1" || c.NodeSelector["disktype"] != "ssd" ||
		len(c.Tolerations) != 1 || *c.Tolerations[0].TolerationSeconds != 30 || c.Labels["team"] != "data" || c.Annotations["n"] != "1" {
		t.Errorf("parsed %+v", c)
	}
	cases := []struct{ src, want string }{
		{`imag: x`, `executor_config.imag: unknown key; expected one of image, resources`},
		{`image: ""`, `executor_config.image: expected a non-empty string`},
		{`resources: {request_cpu: lots}`, `executor_config.resources.request_cpu: expected a quantity such as 500m, 2 or 2Gi, got "lots"`},
		{`resources: {cpu: 1}`, `executor_config.resources.cpu: unknown key; expected requests, limits or one of`},
		{`resources: [1]`, `executor_config.resources: expected a mapping`},
		{`node_selector: {"bad key!": x}`, `executor_config.node_selector: key "bad key!"`},
		{`labels: {a: "not valid!"}`, `executor_config.labels.a: value "not valid!"`},
		{`tolerations: [{operator: Sometimes}]`, `executor_config.tolerations[0].operator: expected Exists or Equal, got "Sometimes"`},
		{`tolerations: [{effect: Never}]`, `executor_config.tolerations[0].effect: expected NoSchedule, PreferNoSchedule or NoExecute`},
		{`tolerations: [{operator: Exists, value: v}]`, `executor_config.tolerations[0].value: must be empty with operator Exists`},
		{`tolerations: [{keys: x}]`, `executor_config.tolerations[0].keys: unknown key`},
		{`tolerations: {a: 1}`, `executor_config.tolerations: expected a list of tolerations, got a mapping`},
		{`annotations: {a: [1]}`, `executor_config.annotations.a: expected a string, got a list`},
	}
	for _, c := range cases {
		_, err := ParseExecutorConfig(yamlMap(t, c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.src, err, c.want)
		}
	}
	if _, err := ParseExecutorConfig(yamlMap(t, "imag: x\nresources: {request_cpu: lots}")); err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 {
		t.Errorf("two mistakes give %v, want both", err)
	}
}

// TestBuildPod: the template's pod with the worker container given the
// image, the command and the executor's environment where the template
// sets none; the task's executor_config over both; the try's labels and
// annotations over everything; restartPolicy Never.
func TestBuildPod(t *testing.T) {
	tmpl := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(tmpl, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: ignored
  labels: {app: sirocco, task_id: spoofed}
spec:
  restartPolicy: Always
  nodeSelector: {zone: a}
  containers:
  - name: sidecar
    image: side:1
  - name: base
    image: from-template:1
    args: [dropped]
    env:
    - name: SIROCCO_DATABASE_URL
      valueFrom: {secretKeyRef: {name: db, key: url}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	template, err := LoadPodTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	k := store.TaskKey{DagID: "d", RunID: "manual__2026-01-01T00:00:00+00:00", TaskID: "t"}
	h := Handle{Kind: HandleKind, Version: 1, Namespace: "ns", Name: "d-t-abc"}
	ec, err := ParseExecutorConfig(yamlMap(t, "resources: {limit_cpu: 2}\nnode_selector: {disk: ssd}\nlabels: {team: x, dag_id: spoofed}"))
	if err != nil {
		t.Fatal(err)
	}
	pod, err := buildPod(template, podParams{handle: h, key: k, try: 2, env: map[string]string{
		"SIROCCO_DATABASE_URL": "postgres://plain", "SIROCCO_DAGS_FOLDER": "/dags"}, override: ec})
	if err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers[1]
	if pod.Name != "d-t-abc" || pod.Namespace != "ns" || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("meta %s/%s restart %s", pod.Namespace, pod.Name, pod.Spec.RestartPolicy)
	}
	if c.Image != "from-template:1" || c.Args != nil || strings.Join(c.Command, " ") != "sirocco tasks run d "+k.RunID+" t --try 2" {
		t.Errorf("worker container %s %q %q", c.Image, c.Command, c.Args)
	}
	if len(c.Env) != 2 || c.Env[0].ValueFrom == nil || c.Env[1].Name != "SIROCCO_DAGS_FOLDER" {
		t.Errorf("env %+v: the template's secret must stay, the rest added", c.Env)
	}
	if pod.Spec.Containers[0].Image != "side:1" || c.Resources.Limits.Cpu().String() != "2" {
		t.Errorf("sidecar %s, limits %v", pod.Spec.Containers[0].Image, c.Resources.Limits)
	}
	if pod.Spec.NodeSelector["zone"] != "a" || pod.Spec.NodeSelector["disk"] != "ssd" {
		t.Errorf("node selector %v", pod.Spec.NodeSelector)
	}
	l := pod.Labels
	if l["app"] != "sirocco" || l["team"] != "x" || l["task_id"] != "t" || l["dag_id"] != "d" || l["try_number"] != "2" || l[LabelWorkerPod] != "True" {
		t.Errorf("labels %v", l)
	}
	if pod.Annotations["sirocco.dev/run-id"] != k.RunID {
		t.Errorf("annotations %v", pod.Annotations)
	}
	if _, err := buildPod(nil, podParams{handle: h, key: k, try: 1}); err == nil || !strings.Contains(err.Error(), "no image") {
		t.Errorf("a pod without an image: %v", err)
	}
}

// TestLoadPodTemplateNamesMistakes: a misspelt field or another kind is
// an error, not silently dropped.
func TestLoadPodTemplateNamesMistakes(t *testing.T) {
	dir := t.TempDir()
	for src, want := range map[string]string{
		"kind: Pod\nspec: {containerz: []}\n": `unknown field "containerz"`,
		"kind: Job\n":                         `kind "Job", expected Pod`,
		"kind: [\n":                           "pod_template_file",
	} {
		p := filepath.Join(dir, "t.yaml")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPodTemplate(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

// TestHandle: decoded only when valid; the pod's handle keeps the
// operator's inside; ClaimedFor accepts only the named pod.
func TestHandle(t *testing.T) {
	h := Handle{Kind: HandleKind, Version: 1, Namespace: "ns", Name: "p-1"}
	b := h.Encode()
	if !IsHandle(b) || IsHandle([]byte(`{"kind":"process","version":1}`)) || IsHandle([]byte("junk")) {
		t.Error("IsHandle")
	}
	for _, bad := range []string{`{"kind":"kubernetes_worker_pod","version":2,"namespace":"ns","name":"p"}`,
		`{"kind":"kubernetes_worker_pod","version":1,"namespace":"NS","name":"p"}`,
		`{"kind":"kubernetes_worker_pod","version":1,"namespace":"ns","name":"../p"}`} {
		if _, err := DecodeHandle([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	wrap, err := Wrapper(b)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wrap([]byte(`{"kind":"spark_driver","version":1}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeHandle(w)
	if err != nil || got.Name != "p-1" || string(got.Task) != `{"kind":"spark_driver","version":1}` {
		t.Errorf("wrapped %s: %+v %v", w, got, err)
	}
	if _, err := wrap([]byte("not json")); err == nil {
		t.Error("a handle that is not JSON was wrapped")
	}
	claimed := ClaimedFor("ns", "p-1")
	if err := claimed(b); err != nil {
		t.Error(err)
	}
	if err := ClaimedFor("ns", "p-2")(b); err == nil || !strings.Contains(err.Error(), "claimed for worker pod ns/p-1, not ns/p-2") {
		t.Errorf("another pod: %v", err)
	}
	if err := claimed([]byte(`{"kind":"process","version":1}`)); err == nil || errors.Unwrap(err) == nil {
		t.Errorf("another kind: %v", err)
	}
}
