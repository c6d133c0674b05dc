package kube

import (
	"crypto/md5" //nolint:gosec // a label hash as Airflow's, not a security use
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation"
)

// PodNameMaxLength is Airflow's limit for generated pod names (a host
// name's 63 characters), well under the API's 253.
const PodNameMaxLength = 63

// MaxLabelLength is the API's limit for a label value.
const MaxLabelLength = validation.LabelValueMaxLength

// Labels that name the try a pod runs, as Airflow's
// KubernetesPodOperator sets them, plus Sirocco's marker.
const (
	LabelDagID     = "dag_id"
	LabelTaskID    = "task_id"
	LabelRunID     = "run_id"
	LabelTryNumber = "try_number"
	// LabelMapIndex names the instance of a mapped task (Airflow's
	// map_index label); absent for a task that is not mapped.
	LabelMapIndex = "map_index"
	// LabelKPO is Airflow's marker of a pod operator's pod, kept so that
	// selectors written for Airflow find Sirocco's pods too.
	LabelKPO = "kubernetes_pod_operator"
	// LabelManagedBy marks every pod Sirocco starts.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is LabelManagedBy's value.
	ManagedBy = "sirocco"
)

var unsafeLabelChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-zA-Z0-9_.-]`) })

// SafeLabelValue makes s a valid label value as Airflow's
// make_safe_label_value does: characters a label cannot hold are dropped,
// as are non-alphanumerics at both ends, and a value that changed or is
// longer than 63 characters is cut and given a hash of the original, so
// two different values stay different. Unlike Airflow's, the result is
// always valid (a value left empty is the hash alone).
func SafeLabelValue(s string) string {
	safe := strings.TrimFunc(unsafeLabelChars().ReplaceAllString(s, ""), notAlnum)
	if len(safe) <= MaxLabelLength && safe == s {
		return safe
	}
	sum := md5.Sum([]byte(s)) //nolint:gosec // see the import
	hash := hex.EncodeToString(sum[:])[:9]
	safe = strings.TrimRightFunc(safe[:min(len(safe), MaxLabelLength-len(hash)-1)], notAlnum)
	if safe == "" {
		return hash
	}
	return safe + "-" + hash
}

func notAlnum(r rune) bool {
	return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
}

// TryLabels are the labels that name one try of a task: Airflow's, made
// safe, plus Sirocco's marker.
func TryLabels(dagID, taskID, runID string, try int) map[string]string {
	return map[string]string{
		LabelDagID:     SafeLabelValue(dagID),
		LabelTaskID:    SafeLabelValue(taskID),
		LabelRunID:     SafeLabelValue(runID),
		LabelTryNumber: strconv.Itoa(try),
		LabelKPO:       "True",
		LabelManagedBy: ManagedBy,
	}
}

// MapLabel adds the map_index label of map index + 1 m (0: not mapped,
// no label) to labels and returns them.
func MapLabel(labels map[string]string, m int) map[string]string {
	if m > 0 {
		labels[LabelMapIndex] = strconv.Itoa(m - 1)
	}
	return labels
}

// Selector is the label selector matching every label of labels.
func Selector(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

var keyChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]+$`) })
var notNameChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9-]+`) })

// maxNameBase is Airflow's validate_key limit on a given pod name.
const maxNameBase = 220

// PodName turns the task's name field into a pod name as Airflow does:
// letters, digits, '_', '.' and '-' only, at most 220 characters, lower
// case, every run of other characters a '-', then (suffix true) cut to
// leave room for '-' and 8 random characters. The result is checked as a
// DNS-1123 subdomain.
func PodName(name string, suffix bool) (string, error) {
	if name == "" {
		return "", errors.New("empty")
	}
	if len(name) > maxNameBase {
		return "", fmt.Errorf("%.20q... is longer than %d characters", name, maxNameBase)
	}
	if !keyChars().MatchString(name) {
		return "", fmt.Errorf("%q may only contain letters, digits, '_', '.' and '-'", name)
	}
	n := notNameChars().ReplaceAllString(strings.ToLower(name), "-")
	if suffix {
		n = AddUniqueSuffix(n)
	}
	if err := CheckPodName(n); err != nil {
		return "", fmt.Errorf("%q gives pod name %q: %w", name, n, err)
	}
	return n, nil
}

// NameFromTaskID is the pod name of a task that gives none (Airflow's
// create_unique_id): its id as a slug.
func NameFromTaskID(taskID string, suffix bool) (string, error) {
	n := strings.Trim(notNameChars().ReplaceAllString(strings.ToLower(taskID), "-"), "-")
	if len(n) > PodNameMaxLength {
		n = strings.Trim(n[:PodNameMaxLength], "-")
	}
	if n == "" {
		n = "task"
	}
	if suffix {
		n = AddUniqueSuffix(n)
	}
	if err := CheckPodName(n); err != nil {
		return "", fmt.Errorf("pod name %q from task id %q: %w", n, taskID, err)
	}
	return n, nil
}

const suffixLen = 8

// AddUniqueSuffix appends '-' and 8 random lower-case letters or digits,
// cutting name so that the whole fits PodNameMaxLength (Airflow's
// add_unique_suffix).
func AddUniqueSuffix(name string) string {
	suffix := "-" + randomString(suffixLen)
	cut := name[:min(len(name), PodNameMaxLength-len(suffix))]
	return strings.Trim(cut, "-.") + suffix
}

const alnumLower = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("kube: crypto/rand: " + err.Error()) // never fails on Linux
	}
	for i := range b {
		b[i] = alnumLower[int(b[i])%len(alnumLower)]
	}
	return string(b)
}

// CheckPodName reports why name cannot name a pod (a DNS-1123 subdomain:
// lower-case letters, digits, '-' and '.', starting and ending with a
// letter or digit, at most 253 characters).
func CheckPodName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("not a valid pod name (DNS-1123 subdomain): %s", strings.Join(errs, "; "))
	}
	return nil
}

// CheckNamespace reports why ns cannot name a namespace (a DNS-1123
// label).
func CheckNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid namespace (DNS-1123 label): %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// CheckLabels reports every label whose key or value the API would
// refuse, naming field.
func CheckLabels(field string, labels map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, e := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Errorf("%s: key %q: %s", field, k, e))
		}
		for _, e := range validation.IsValidLabelValue(labels[k]) {
			errs = append(errs, fmt.Errorf("%s.%s: value %q: %s", field, k, labels[k], e))
		}
	}
	return errors.Join(errs...)
}
