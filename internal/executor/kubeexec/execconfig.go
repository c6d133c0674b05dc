package kubeexec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sirocco-dev/sirocco/internal/kube"
)

// ExecutorConfig is a task's executor_config: what its worker pod changes
// from the executor's (Airflow's executor_config pod_override, in the
// fields people override).
type ExecutorConfig struct {
	Image        string
	Resources    corev1.ResourceRequirements
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	Labels       map[string]string
	Annotations  map[string]string
}

// executorConfigKeys are the keys executor_config accepts.
var executorConfigKeys = []string{"image", "resources", "node_selector", "tolerations", "labels", "annotations"}

// resourceKeys are the flat spellings of resources (the seed's
// request_cpu), besides requests: and limits: mappings.
var resourceKeys = map[string]struct {
	limit bool
	name  corev1.ResourceName
}{
	"request_cpu": {false, corev1.ResourceCPU}, "request_memory": {false, corev1.ResourceMemory},
	"request_ephemeral_storage": {false, corev1.ResourceEphemeralStorage},
	"limit_cpu":                 {true, corev1.ResourceCPU}, "limit_memory": {true, corev1.ResourceMemory},
	"limit_ephemeral_storage": {true, corev1.ResourceEphemeralStorage},
	"limit_gpu":               {true, "nvidia.com/gpu"},
}

// CheckExecutorConfig reports every mistake of a task's executor_config
// (`dags validate`), each naming its field.
func CheckExecutorConfig(m map[string]any) error {
	_, err := ParseExecutorConfig(m)
	return err
}

// ParseExecutorConfig reads a task's executor_config; errors name the
// field (executor_config.resources.request_cpu) and what was expected.
func ParseExecutorConfig(m map[string]any) (ExecutorConfig, error) {
	var c ExecutorConfig
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		field := "executor_config." + k
		var err error
		switch k {
		case "image":
			c.Image, err = nonEmptyString(field, v)
		case "resources":
			c.Resources, err = parseResources(field, v)
		case "node_selector":
			c.NodeSelector, err = labelMap(field, v)
		case "labels":
			c.Labels, err = labelMap(field, v)
		case "annotations":
			c.Annotations, err = stringMap(field, v)
		case "tolerations":
			c.Tolerations, err = parseTolerations(field, v)
		default:
			err = fmt.Errorf("%s: unknown key; expected one of %s", field, strings.Join(executorConfigKeys, ", "))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

func nonEmptyString(field string, v any) (string, error) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s: expected a non-empty string, got %s", field, describe(v))
	}
	return s, nil
}

func stringMap(field string, v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a mapping of names to strings, got %s", field, describe(v))
	}
	out := make(map[string]string, len(m))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch s := m[k].(type) {
		case string:
			out[k] = s
		case int, int64, float64, bool:
			out[k] = fmt.Sprint(s)
		default:
			errs = append(errs, fmt.Errorf("%s.%s: expected a string, got %s", field, k, describe(m[k])))
		}
	}
	return out, errors.Join(errs...)
}

func labelMap(field string, v any) (map[string]string, error) {
	m, err := stringMap(field, v)
	if err != nil {
		return nil, err
	}
	return m, kube.CheckLabels(field, m)
}

func parseResources(field string, v any) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	m, ok := v.(map[string]any)
	if !ok {
		return r, fmt.Errorf("%s: expected a mapping (request_cpu, limit_memory, ... or requests:/limits:), got %s", field, describe(v))
	}
	var errs []error
	put := func(limit bool, name corev1.ResourceName, f string, val any) {
		q, err := quantity(f, val)
		if err != nil {
			errs = append(errs, err)
			return
		}
		list := &r.Requests
		if limit {
			list = &r.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f := field + "." + k
		if spec, ok := resourceKeys[k]; ok {
			put(spec.limit, spec.name, f, m[k])
			continue
		}
		if k != "requests" && k != "limits" {
			errs = append(errs, fmt.Errorf("%s: unknown key; expected requests, limits or one of %s", f, strings.Join(slices.Sorted(maps.Keys(resourceKeys)), ", ")))
			continue
		}
		sub, ok := m[k].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: expected a mapping of resource names to quantities, got %s", f, describe(m[k])))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(sub)) {
			put(k == "limits", corev1.ResourceName(name), f+"."+name, sub[name])
		}
	}
	return r, errors.Join(errs...)
}

func quantity(field string, v any) (resource.Quantity, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int, int64, float64:
		s = fmt.Sprint(x)
	default:
		return resource.Quantity{}, fmt.Errorf("%s: expected a quantity such as 500m, 2 or 2Gi, got %s", field, describe(v))
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, fmt.Errorf("%s: expected a quantity such as 500m, 2 or 2Gi, got %q", field, s)
	}
	return q, nil
}

var (
	tolerationOperators = []string{"", string(corev1.TolerationOpExists), string(corev1.TolerationOpEqual)}
	taintEffects        = []string{"", string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}
	tolerationKeys      = []string{"key", "operator", "value", "effect", "toleration_seconds"}
)

func parseTolerations(field string, v any) ([]corev1.Toleration, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of tolerations, got %s", field, describe(v))
	}
	out := make([]corev1.Toleration, 0, len(list))
	var errs []error
	for i, e := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		m, ok := e.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: expected a mapping with %s, got %s", f, strings.Join(tolerationKeys, ", "), describe(e)))
			continue
		}
		t, err := parseToleration(f, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func parseToleration(f string, m map[string]any) (corev1.Toleration, error) {
	var t corev1.Toleration
	var errs []error
	str := func(k string) string {
		v, ok := m[k]
		if !ok {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%s.%s: expected a string, got %s", f, k, describe(v)))
		}
		return s
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(tolerationKeys, k) && k != "tolerationSeconds" {
			errs = append(errs, fmt.Errorf("%s.%s: unknown key; expected one of %s", f, k, strings.Join(tolerationKeys, ", ")))
		}
	}
	t.Key, t.Value = str("key"), str("value")
	if op := str("operator"); slices.Contains(tolerationOperators, op) {
		t.Operator = corev1.TolerationOperator(op)
	} else {
		errs = append(errs, fmt.Errorf("%s.operator: expected Exists or Equal, got %q", f, op))
	}
	if eff := str("effect"); slices.Contains(taintEffects, eff) {
		t.Effect = corev1.TaintEffect(eff)
	} else {
		errs = append(errs, fmt.Errorf("%s.effect: expected NoSchedule, PreferNoSchedule or NoExecute, got %q", f, eff))
	}
	if t.Operator == corev1.TolerationOpExists && t.Value != "" {
		errs = append(errs, fmt.Errorf("%s.value: must be empty with operator Exists", f))
	}
	for _, k := range []string{"toleration_seconds", "tolerationSeconds"} {
		if v, ok := m[k]; ok {
			n, ok := v.(int)
			if !ok || n < 0 {
				errs = append(errs, fmt.Errorf("%s.%s: expected a whole number of seconds, got %s", f, k, describe(v)))
				continue
			}
			s := int64(n)
			t.TolerationSeconds = &s
		}
	}
	return t, errors.Join(errs...)
}

// describe names a YAML value's type for an error.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", x)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v (%T)", x, x)
	}
}
