package kubernetes

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// fields decodes a task's fields written in YAML, as the loader hands
// them over (maps of any, lists of any, ints).
func fields(t *testing.T, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSeedExampleFields: the seed's Example 2 as written (Airflow's
// spellings: resources with request_cpu, image_pull_secrets as
// {name: ...}) reads into the pod Airflow would create.
func TestSeedExampleFields(t *testing.T) {
	t.Parallel()
	c, err := readConfig(fields(t, `
name: pyspark-job
namespace: default
image: your-spark-image:your-spark-version
cmds: [/bin/bash, -c]
arguments: ["spark-submit --class YourMainClass your-spark-jar.jar --arg1 value1 --arg2 value2"]
resources: {request_cpu: "1", request_memory: 2Gi}
image_pull_secrets: [{name: your-registry-secret}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.resources.Requests.Cpu().Cmp(resource.MustParse("1")) != 0 || c.resources.Requests.Memory().Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("resources %+v", c.resources)
	}
	if len(c.pullSecs) != 1 || c.pullSecs[0].Name != "your-registry-secret" {
		t.Errorf("image_pull_secrets %+v", c.pullSecs)
	}
	// Airflow's defaults.
	if c.onFinish != DeletePod || !c.getLogs || c.xcom || c.startupTimeout != 120*time.Second ||
		c.scheduleTimeout != 120*time.Second || c.container != "base" || !c.suffix || !c.reattach || c.connID != "kubernetes_default" {
		t.Errorf("defaults: %+v", c)
	}
	pod := buildPod(c, tryIdentity{DagID: "remote_pyspark_dag", RunID: "manual__2026-01-01T00:00:00+00:00", TaskID: "run_pyspark", Try: 2},
		"pyspark-job-abcdefgh", "default", nil, map[string]string{"SIROCCO_CTX_TRY_NUMBER": "2"})
	ctr := pod.Spec.Containers[0]
	if ctr.Name != "base" || ctr.Image != "your-spark-image:your-spark-version" || ctr.Command[0] != "/bin/bash" || len(ctr.Args) != 1 {
		t.Errorf("container %+v", ctr)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || pod.Spec.ImagePullSecrets[0].Name != "your-registry-secret" {
		t.Errorf("spec %+v", pod.Spec)
	}
	for k, v := range map[string]string{"dag_id": "remote_pyspark_dag", "task_id": "run_pyspark", "try_number": "2",
		"kubernetes_pod_operator": "True", "app.kubernetes.io/managed-by": "sirocco"} {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if !strings.HasPrefix(pod.Labels["run_id"], "manual__2026-01-01T0000000000-") {
		t.Errorf("run_id label %q", pod.Labels["run_id"])
	}
	if len(ctr.Env) != 1 || ctr.Env[0].Name != "SIROCCO_CTX_TRY_NUMBER" {
		t.Errorf("env %+v", ctr.Env)
	}
}

// TestObjectFieldsBothSpellings: Kubernetes objects are read with the
// API's camelCase and with the Python client's snake_case, map keys
// kept as written.
func TestObjectFieldsBothSpellings(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`
image: i
affinity:
  node_affinity:
    required_during_scheduling_ignored_during_execution:
      node_selector_terms: [{match_expressions: [{key: disk_type, operator: In, values: [ssd]}]}]
  pod_anti_affinity:
    preferred_during_scheduling_ignored_during_execution:
    - weight: 1
      pod_affinity_term: {topology_key: kubernetes.io/hostname, label_selector: {match_labels: {app_name: spark}}}
tolerations: [{key: dedicated, operator: Equal, value: spark, effect: NoSchedule, toleration_seconds: 30}]
volumes: [{name: data, persistent_volume_claim: {claim_name: data-pvc}}, {name: cfg, config_map: {name: cfg}}]
volume_mounts: [{name: data, mount_path: /data, read_only: true}]
ports: [{container_port: 4040, name: ui}]
env_vars: [{name: A, value: 1}, {name: PW, value_from: {secret_key_ref: {name: s, key: pw}}}]
env_from: [{config_map_ref: {name: cm}}]
security_context: {run_as_user: 1000, fs_group: 2000}
container_resources: {requests: {cpu: 500m}, limits: {memory: 1Gi, cpu: 2}}
`, `
image: i
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: disk_type, operator: In, values: [ssd]}]}]
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 1
      podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app_name: spark}}}
tolerations: [{key: dedicated, operator: Equal, value: spark, effect: NoSchedule, tolerationSeconds: 30}]
volumes: [{name: data, persistentVolumeClaim: {claimName: data-pvc}}, {name: cfg, configMap: {name: cfg}}]
volume_mounts: [{name: data, mountPath: /data, readOnly: true}]
ports: [{containerPort: 4040, name: ui}]
env_vars: [{name: A, value: "1"}, {name: PW, valueFrom: {secretKeyRef: {name: s, key: pw}}}]
env_from: [{configMapRef: {name: cm}}]
security_context: {runAsUser: 1000, fsGroup: 2000}
container_resources: {requests: {cpu: 500m}, limits: {memory: 1Gi, cpu: 2}}
`} {
		c, err := readConfig(fields(t, src))
		if err != nil {
			t.Fatal(err)
		}
		term := c.affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0]
		if term.MatchExpressions[0].Key != "disk_type" || term.MatchExpressions[0].Values[0] != "ssd" {
			t.Errorf("affinity %+v", term)
		}
		anti := c.affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
		if anti.LabelSelector.MatchLabels["app_name"] != "spark" {
			t.Errorf("a label key inside a selector must be kept: %+v", anti.LabelSelector.MatchLabels)
		}
		if c.tolers[0].TolerationSeconds == nil || *c.tolers[0].TolerationSeconds != 30 || c.tolers[0].Effect != corev1.TaintEffectNoSchedule {
			t.Errorf("tolerations %+v", c.tolers)
		}
		if c.volumes[0].PersistentVolumeClaim.ClaimName != "data-pvc" || c.volumes[1].ConfigMap.Name != "cfg" || !c.mounts[0].ReadOnly {
			t.Errorf("volumes %+v %+v", c.volumes, c.mounts)
		}
		if c.ports[0].ContainerPort != 4040 || c.env[0].Value != "1" || c.env[1].ValueFrom.SecretKeyRef.Key != "pw" {
			t.Errorf("ports/env %+v %+v", c.ports, c.env)
		}
		if c.envFrom[0].ConfigMapRef.Name != "cm" || *c.podSec.RunAsUser != 1000 {
			t.Errorf("env_from/security %+v %+v", c.envFrom, c.podSec)
		}
		if c.resources.Limits.Cpu().Cmp(resource.MustParse("2")) != 0 || c.resources.Requests.Cpu().Cmp(resource.MustParse("500m")) != 0 {
			t.Errorf("resources %+v", c.resources)
		}
	}
}

// TestMoreFieldForms: env_vars as a mapping, image_pull_secrets as a
// comma list, configmaps, Airflow's Secret objects, the older
// is_delete_operator_pod.
func TestMoreFieldForms(t *testing.T) {
	t.Parallel()
	c, err := readConfig(fields(t, `
image: i
env_vars: {B: two, A: 1}
image_pull_secrets: "a, b"
configmaps: [cm1]
secrets:
- {deploy_type: env, deploy_target: PASSWORD, secret: db, key: pw}
- {deploy_type: env, secret: all}
- {deploy_type: volume, deploy_target: /etc/creds, secret: creds}
is_delete_operator_pod: false
schedule_timeout_seconds: 30
termination_grace_period: 5
active_deadline_seconds: 600
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.env) != 3 || c.env[0].Name != "A" || c.env[0].Value != "1" || c.env[2].ValueFrom.SecretKeyRef.Name != "db" {
		t.Errorf("env %+v", c.env)
	}
	if len(c.pullSecs) != 2 || c.pullSecs[1].Name != "b" {
		t.Errorf("pull secrets %+v", c.pullSecs)
	}
	if len(c.envFrom) != 2 || c.envFrom[0].ConfigMapRef.Name != "cm1" || c.envFrom[1].SecretRef.Name != "all" {
		t.Errorf("env_from %+v", c.envFrom)
	}
	if len(c.volumes) != 1 || c.volumes[0].Secret.SecretName != "creds" || c.mounts[0].MountPath != "/etc/creds" {
		t.Errorf("secret volume %+v %+v", c.volumes, c.mounts)
	}
	if c.onFinish != KeepPod || c.scheduleTimeout != 30*time.Second || c.startupTimeout != 120*time.Second ||
		*c.termGrace != 5 || *c.activeDeadline != 600 {
		t.Errorf("config %+v", c)
	}
}

// TestBadFields: every mistake the loader cannot see is reported at
// once, naming the field and the path inside it.
func TestBadFields(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{"image: ''", "field image: empty"},
		{"image: i\non_finish_action: delete", `field on_finish_action: "delete", want delete_pod, delete_succeeded_pod, keep_pod`},
		{"image: i\nname: 'my job'", "field name: \"my job\" may only contain"},
		{"image: i\nnamespace: Prod", "field namespace: \"Prod\" is not a valid namespace"},
		{"image: i\naffinity: {node_afinity: {}}", `field affinity: unknown key "node_afinity" (expected one of nodeAffinity, podAffinity, podAntiAffinity)`},
		{"image: i\ntolerations: [{toleration_seconds: soon}]", "field tolerations[0].toleration_seconds: expected an integer, got the string \"soon\""},
		{"image: i\nresources: {request_cpu: lots}", `field resources.request_cpu: "lots" is not a quantity`},
		{"image: i\nresources: {request_cpu: 1, cpu: 2}", `field resources: unknown key "cpu"`},
		{"image: i\ncontainer_resources: {requests: {cpu: x}}", "field container_resources"},
		{"image: i\nresources: {request_cpu: 1}\ncontainer_resources: {}", "not both"},
		{"image: i\nimage_pull_secrets: [1]", "field image_pull_secrets[0]: expected a name"},
		{"image: i\nlabels: {'bad key!': x}", `field labels: key "bad key!"`},
		{"image: i\nstartup_timeout_seconds: 0", "field startup_timeout_seconds: 0"},
		{"image: i\nimage_pull_policy: Sometimes", "field image_pull_policy"},
		{"image: i\nsecrets: [{deploy_type: file, secret: s}]", `field secrets[0]: deploy_type "file"`},
		{"image: i\nvolumes: {name: x}", "field volumes: expected a list, got a mapping"},
		{"image: i\nis_delete_operator_pod: true\non_finish_action: keep_pod", "not both"},
		{"image: i\nenv_vars: [{value: x}]", "field env_vars[0]: no name"},
	}
	for _, tt := range tests {
		_, err := readConfig(fields(t, tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n  err %v\n want %q", tt.src, err, tt.want)
		}
	}
	_, err := readConfig(fields(t, "image: ''\non_finish_action: x\nnamespace: A"))
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Errorf("all mistakes at once: %v", err)
	}
}

// TestEnvLayers: the task's env, then env_vars, then SIROCCO_CTX_*.
func TestEnvLayers(t *testing.T) {
	t.Parallel()
	env := layerEnv(map[string]string{"A": "task", "B": "task"},
		[]corev1.EnvVar{{Name: "B", Value: "field"}, {Name: "SIROCCO_CTX_DAG_ID", Value: "field"}},
		map[string]string{"SIROCCO_CTX_DAG_ID": "d"})
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	if len(env) != 3 || got["A"] != "task" || got["B"] != "field" || got["SIROCCO_CTX_DAG_ID"] != "d" || env[0].Name != "A" {
		t.Errorf("env %+v", env)
	}
}

// TestXComTerminationMessagePath: with do_xcom_push the container's
// termination message is Airflow's result file.
func TestXComTerminationMessagePath(t *testing.T) {
	t.Parallel()
	c, err := readConfig(map[string]any{"image": "i", "do_xcom_push": true})
	if err != nil {
		t.Fatal(err)
	}
	p := buildPod(c, tryIdentity{DagID: "d", RunID: "r", TaskID: "t", Try: 1}, "n", "ns", nil, nil)
	if got := p.Spec.Containers[0].TerminationMessagePath; got != XComPath {
		t.Errorf("terminationMessagePath %q", got)
	}
	if got := p.Spec.Containers[0].TerminationMessagePolicy; got != corev1.TerminationMessageReadFile {
		t.Errorf("terminationMessagePolicy %q", got)
	}
}
