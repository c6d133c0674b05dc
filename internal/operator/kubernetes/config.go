package kubernetes

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// config is a try's fields, read through Spec and checked.
type config struct {
	connID    string
	overrides kube.Overrides
	namespace string
	name      string // as given; "" for the task id
	suffix    bool
	image     string
	pullPol   corev1.PullPolicy
	cmds      []string
	args      []string
	env       []corev1.EnvVar
	envFrom   []corev1.EnvFromSource
	resources corev1.ResourceRequirements
	pullSecs  []corev1.LocalObjectReference
	labels    map[string]string
	annots    map[string]string
	nodeSel   map[string]string
	affinity  *corev1.Affinity
	tolers    []corev1.Toleration
	volumes   []corev1.Volume
	mounts    []corev1.VolumeMount
	ports     []corev1.ContainerPort
	inits     []corev1.Container
	podSec    *corev1.PodSecurityContext
	contSec   *corev1.SecurityContext
	sa        string
	automount *bool
	hostNet   bool
	hostname  string
	subdomain string
	dnsPolicy corev1.DNSPolicy
	scheduler string
	priority  string
	container string
	termPol   corev1.TerminationMessagePolicy

	startupTimeout  time.Duration
	scheduleTimeout time.Duration
	activeDeadline  *int64
	termGrace       *int64 // seconds
	onFinish        string
	getLogs         bool
	xcom            bool
	skip            []int
	reattach        bool
	logEvents       bool
}

// readConfig reads t's fields into a config, reporting every field the
// loader could not check (it checks kinds only) at once.
func readConfig(args map[string]any) (config, error) {
	f := operator.FieldsOf(Spec, args)
	a := f.Args()
	c := config{
		connID: f.String("kubernetes_conn_id"), namespace: f.String("namespace"), name: f.String("name"),
		suffix: f.Bool("random_name_suffix"), image: strings.TrimSpace(f.String("image")),
		pullPol: corev1.PullPolicy(f.String("image_pull_policy")), cmds: f.Strings("cmds"), args: f.Strings("arguments"),
		labels: f.StringMap("labels"), annots: f.StringMap("annotations"), nodeSel: f.StringMap("node_selector"),
		sa: f.String("service_account_name"), hostNet: f.Bool("hostnetwork"), hostname: f.String("hostname"),
		subdomain: f.String("subdomain"), dnsPolicy: corev1.DNSPolicy(f.String("dnspolicy")),
		scheduler: f.String("schedulername"), priority: f.String("priority_class_name"),
		container: f.String("base_container_name"), termPol: corev1.TerminationMessagePolicy(f.String("termination_message_policy")),
		onFinish: f.String("on_finish_action"), getLogs: f.Bool("get_logs"), xcom: f.Bool("do_xcom_push"),
		skip: f.Ints("skip_on_exit_code"), reattach: f.Bool("reattach_on_restart"), logEvents: f.Bool("log_events_on_failure"),
	}
	c.overrides = kube.Overrides{Context: f.String("cluster_context"), ConfigFile: f.String("config_file")}
	if _, ok := a["in_cluster"]; ok && a["in_cluster"] != nil {
		b := f.Bool("in_cluster")
		c.overrides.InCluster = &b
	}
	if _, ok := a["automount_service_account_token"]; ok && a["automount_service_account_token"] != nil {
		b := f.Bool("automount_service_account_token")
		c.automount = &b
	}
	if _, ok := a["is_delete_operator_pod"]; ok && a["is_delete_operator_pod"] != nil {
		if _, both := a["on_finish_action"]; both {
			return c, errors.New("field is_delete_operator_pod: give on_finish_action or is_delete_operator_pod, not both")
		}
		c.onFinish = KeepPod
		if f.Bool("is_delete_operator_pod") {
			c.onFinish = DeletePod
		}
	}
	errs := c.readObjects(a)
	errs = append(errs, c.readTimes(f)...)
	errs = append(errs, c.check()...)
	return c, errors.Join(errs...)
}

// readObjects reads the fields holding Kubernetes objects.
func (c *config) readObjects(a operator.Args) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	c.env, err = readEnv(a["env_vars"])
	add(err)
	add(decodeOptional(a, "env_from", &c.envFrom))
	for _, cm := range a.Strings("configmaps") {
		c.envFrom = append(c.envFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}})
	}
	c.resources, err = readResources(a)
	add(err)
	c.pullSecs, err = readPullSecrets(a["image_pull_secrets"])
	add(err)
	add(decodeOptional(a, "affinity", &c.affinity))
	add(decodeOptional(a, "tolerations", &c.tolers))
	add(decodeOptional(a, "volumes", &c.volumes))
	add(decodeOptional(a, "volume_mounts", &c.mounts))
	add(c.readSecrets(a["secrets"])) // after volumes: it adds to them
	add(decodeOptional(a, "ports", &c.ports))
	add(decodeOptional(a, "init_containers", &c.inits))
	add(decodeOptional(a, "security_context", &c.podSec))
	add(decodeOptional(a, "container_security_context", &c.contSec))
	return errs
}

// readTimes reads the timeouts, in whole seconds as Airflow's.
func (c *config) readTimes(f operator.Fields) []error {
	var errs []error
	a := f.Args()
	startup := f.Int("startup_timeout_seconds")
	schedule := startup
	if v, ok := a["schedule_timeout_seconds"]; ok && v != nil {
		schedule = f.Int("schedule_timeout_seconds")
	}
	for name, v := range map[string]int{"startup_timeout_seconds": startup, "schedule_timeout_seconds": schedule} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("field %s: %d, want a number of seconds above 0", name, v))
		}
	}
	c.startupTimeout, c.scheduleTimeout = time.Duration(startup)*time.Second, time.Duration(schedule)*time.Second
	for name, dst := range map[string]**int64{"active_deadline_seconds": &c.activeDeadline, "termination_grace_period": &c.termGrace} {
		v, ok := a[name]
		if !ok || v == nil {
			continue
		}
		n := int64(f.Int(name))
		least := int64(0)
		if name == "active_deadline_seconds" {
			least = 1
		}
		if n < least {
			errs = append(errs, fmt.Errorf("field %s: %d, want %d or more seconds", name, n, least))
			continue
		}
		*dst = &n
	}
	return errs
}

// check reports values the API or Sirocco would refuse, before anything
// is created.
func (c *config) check() []error {
	var errs []error
	if c.image == "" {
		errs = append(errs, errors.New("field image: empty"))
	}
	if !slices.Contains(onFinishActions, c.onFinish) {
		errs = append(errs, fmt.Errorf("field on_finish_action: %q, want %s", c.onFinish, strings.Join(onFinishActions, ", ")))
	}
	if c.namespace != "" {
		if err := kube.CheckNamespace(c.namespace); err != nil {
			errs = append(errs, fmt.Errorf("field namespace: %w", err))
		}
	}
	if c.name != "" {
		if _, err := kube.PodName(c.name, c.suffix); err != nil {
			errs = append(errs, fmt.Errorf("field name: %w", err))
		}
	}
	if err := kube.CheckLabels("field labels", c.labels); err != nil {
		errs = append(errs, err)
	}
	if err := kube.CheckLabels("field node_selector", c.nodeSel); err != nil {
		errs = append(errs, err)
	}
	if c.container == "" {
		errs = append(errs, errors.New("field base_container_name: empty"))
	}
	switch c.pullPol {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, fmt.Errorf("field image_pull_policy: %q, want Always, IfNotPresent or Never", c.pullPol))
	}
	switch c.termPol {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	default:
		errs = append(errs, fmt.Errorf("field termination_message_policy: %q, want File or FallbackToLogsOnError", c.termPol))
	}
	return errs
}

// decodeOptional decodes field name of a into out when it is set.
func decodeOptional(a operator.Args, name string, out any) error {
	v, ok := a[name]
	if !ok || v == nil {
		return nil
	}
	return decodeObject("field "+name, v, out)
}

// readEnv reads env_vars: a mapping name: value (sorted by name), or a
// list of EnvVar.
func readEnv(v any) ([]corev1.EnvVar, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		out := make([]corev1.EnvVar, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			s, err := toString(x[k], "field env_vars."+k)
			if err != nil {
				return nil, err
			}
			out = append(out, corev1.EnvVar{Name: k, Value: s.(string)})
		}
		return out, nil
	case map[string]string:
		out := make([]corev1.EnvVar, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = append(out, corev1.EnvVar{Name: k, Value: x[k]})
		}
		return out, nil
	}
	var out []corev1.EnvVar
	if err := decodeObject("field env_vars", v, &out); err != nil {
		return nil, err
	}
	for i, e := range out {
		if e.Name == "" {
			return nil, fmt.Errorf("field env_vars[%d]: no name", i)
		}
	}
	return out, nil
}

// legacyResources are Airflow's flat resource keys.
var legacyResources = map[string]struct {
	limit bool
	name  corev1.ResourceName
}{
	"request_cpu":               {false, corev1.ResourceCPU},
	"request_memory":            {false, corev1.ResourceMemory},
	"request_ephemeral_storage": {false, corev1.ResourceEphemeralStorage},
	"limit_cpu":                 {true, corev1.ResourceCPU},
	"limit_memory":              {true, corev1.ResourceMemory},
	"limit_ephemeral_storage":   {true, corev1.ResourceEphemeralStorage},
	"limit_gpu":                 {true, "nvidia.com/gpu"},
}

// readResources reads container_resources or its older name resources,
// in the API's shape or Airflow's flat one (the seed writes
// {request_cpu: "1", request_memory: 2Gi}).
func readResources(a operator.Args) (corev1.ResourceRequirements, error) {
	var out corev1.ResourceRequirements
	name := "container_resources"
	v := a[name]
	if r := a["resources"]; r != nil {
		if v != nil {
			return out, errors.New("field resources: give container_resources or resources, not both")
		}
		name, v = "resources", r
	}
	m, ok := v.(map[string]any)
	if v == nil {
		return out, nil
	}
	if !ok {
		return out, fmt.Errorf("field %s: expected a mapping, got %s", name, describe(v))
	}
	flat := false
	for k := range m {
		if _, ok := legacyResources[k]; ok {
			flat = true
		}
	}
	if !flat {
		return out, decodeObject("field "+name, v, &out)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		spec, ok := legacyResources[k]
		if !ok {
			return out, fmt.Errorf("field %s: unknown key %q (Airflow's keys: %s; or write {requests: ..., limits: ...})",
				name, k, strings.Join(slices.Sorted(maps.Keys(legacyResources)), ", "))
		}
		if m[k] == nil {
			continue
		}
		s, err := toString(m[k], "field "+name+"."+k)
		if err != nil {
			return out, err
		}
		q, err := resource.ParseQuantity(s.(string))
		if err != nil {
			return out, fmt.Errorf("field %s.%s: %q is not a quantity (like 500m, 2, 2Gi): %w", name, k, s, err)
		}
		list := &out.Requests
		if spec.limit {
			list = &out.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[spec.name] = q
	}
	return out, nil
}

// readPullSecrets reads image_pull_secrets: names separated by commas, a
// list of names, or a list of {name: ...}.
func readPullSecrets(v any) ([]corev1.LocalObjectReference, error) {
	var names []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		names = strings.Split(x, ",")
	case []any:
		for i, it := range x {
			switch y := it.(type) {
			case string:
				names = append(names, y)
			case map[string]any:
				var ref corev1.LocalObjectReference
				if err := decodeObject(fmt.Sprintf("field image_pull_secrets[%d]", i), y, &ref); err != nil {
					return nil, err
				}
				names = append(names, ref.Name)
			default:
				return nil, fmt.Errorf("field image_pull_secrets[%d]: expected a name or {name: ...}, got %s", i, describe(it))
			}
		}
	default:
		return nil, fmt.Errorf("field image_pull_secrets: expected a list of names, got %s", describe(v))
	}
	var out []corev1.LocalObjectReference
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("field image_pull_secrets[%d]: empty name", i)
		}
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out, nil
}

// airflowSecret is Airflow's Secret: a secret exposed as environment
// variables or files.
type airflowSecret struct {
	DeployType   string             `json:"deploy_type"`
	DeployTarget string             `json:"deploy_target"`
	Secret       string             `json:"secret"`
	Key          string             `json:"key"`
	Items        []corev1.KeyToPath `json:"items"`
}

// readSecrets adds what Airflow's Secret objects give: an env var from a
// key, every key as env vars, or a volume mounted at deploy_target.
func (c *config) readSecrets(v any) error {
	if v == nil {
		return nil
	}
	var secs []airflowSecret
	if err := decodeObject("field secrets", v, &secs); err != nil {
		return err
	}
	for i, s := range secs {
		where := fmt.Sprintf("field secrets[%d]", i)
		if s.Secret == "" {
			return fmt.Errorf("%s: secret (the name of the Kubernetes secret) is empty", where)
		}
		switch s.DeployType {
		case "env":
			if s.Key == "" {
				c.envFrom = append(c.envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s.Secret}}})
				continue
			}
			if s.DeployTarget == "" {
				return fmt.Errorf("%s: deploy_target (the variable's name) is empty", where)
			}
			c.env = append(c.env, corev1.EnvVar{Name: s.DeployTarget, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s.Secret}, Key: s.Key}}})
		case "volume":
			if !strings.HasPrefix(s.DeployTarget, "/") {
				return fmt.Errorf("%s: deploy_target %q must be an absolute path to mount the secret at", where, s.DeployTarget)
			}
			vol := fmt.Sprintf("secretvol%d", i)
			src := &corev1.SecretVolumeSource{SecretName: s.Secret, Items: s.Items}
			if s.Key != "" && len(s.Items) == 0 {
				src.Items = []corev1.KeyToPath{{Key: s.Key, Path: s.Key}}
			}
			c.volumes = append(c.volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: src}})
			c.mounts = append(c.mounts, corev1.VolumeMount{Name: vol, MountPath: s.DeployTarget, ReadOnly: true})
		default:
			return fmt.Errorf("%s: deploy_type %q, want env or volume", where, s.DeployType)
		}
	}
	return nil
}
