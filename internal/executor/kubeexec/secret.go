package kubeexec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sirocco-dev/sirocco/internal/kube"
)

// secretPrefix starts the name of the Secret holding the worker pods'
// secret variables; the rest is a digest of its content, so the Secret is
// immutable, two schedulers of one deployment share it, and a new key or
// password makes a new one instead of changing what running pods read.
const secretPrefix = "sirocco-worker-"

// secretEnv returns the secret variables the pods get from the executor's
// Secret: Options.PodSecrets less those the template's worker container
// sets itself (from a Secret of the user's, say).
func (x *Executor) secretEnv() map[string]string {
	out := map[string]string{}
	for k, v := range x.o.PodSecrets {
		if v != "" && !x.TemplateSets(k) {
			out[k] = v
		}
	}
	return out
}

// secretName is the name of the Secret holding data.
func secretName(data map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s=%s\x00", k, data[k])
	}
	return secretPrefix + hex.EncodeToString(h.Sum(nil))[:10]
}

// ensureSecret creates the Secret the worker pods read their secret
// variables from (the database URL with its password, the connections'
// secret key), unless it exists; it sets x.secret. Without secret
// variables there is none. A cluster that refuses it is an error naming
// what to do, never a fallback to values in clear in the pod spec.
func (x *Executor) ensureSecret(ctx context.Context) error {
	data := x.secretEnv()
	if len(data) == 0 {
		return nil
	}
	name := secretName(data)
	immutable := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: x.namespace,
			Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, LabelWorkerPod: "True"}},
		Immutable:  &immutable,
		StringData: data,
		Type:       corev1.SecretTypeOpaque,
	}
	secrets := x.cluster.Client.CoreV1().Secrets(x.namespace)
	err := retry(ctx, func(ctx context.Context) error {
		_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create Secret %s/%s holding the worker pods' %s (set them in pod_template_file from a Secret of yours instead, "+
			"or allow the scheduler to create secrets): %w", x.namespace, name, describeKeys(data), err)
	}
	x.secret = name
	return nil
}

// describeKeys lists the variables of data.
func describeKeys(data map[string]string) string {
	out := ""
	for i, k := range slices.Sorted(maps.Keys(data)) {
		if i > 0 {
			out += ", "
		}
		out += k
	}
	return out
}

// withSecretEnv adds, for each variable of keys that env does not set,
// one read from Secret name under the same key (sorted, for a stable
// spec).
func withSecretEnv(env []corev1.EnvVar, name string, keys []string) []corev1.EnvVar {
	set := map[string]bool{}
	for _, e := range env {
		set[e.Name] = true
	}
	for _, k := range slices.Sorted(slices.Values(keys)) {
		if set[k] {
			continue
		}
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: k},
		}})
	}
	return env
}
