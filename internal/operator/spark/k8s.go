package spark

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/kube"
	"github.com/sirocco-dev/sirocco/internal/operator"
)

// spark_submit on a k8s:// master in cluster mode. Sirocco names the
// driver pod itself (driverPodName: one name per try), stores that name
// in the handle, then runs spark-submit with
// spark.kubernetes.submission.waitAppCompletion=false: spark-submit
// creates the pod and exits, and the pod is tracked through the apiserver
// (k8s_track.go). A Sirocco killed at any point finds the pod by its name
// after a restart; spark-submit is never run twice for a try whose pod
// exists, and the apiserver refuses a second pod of that name anyway.

// Spark properties Sirocco sets for a driver pod.
const (
	confPodName       = "spark.kubernetes.driver.pod.name"
	confNamespace     = "spark.kubernetes.namespace"
	confWait          = "spark.kubernetes.submission.waitAppCompletion"
	confDriverLabel   = "spark.kubernetes.driver.label."
	confContext       = "spark.kubernetes.context"
	confAuth          = "spark.kubernetes.authenticate.submission."
	confContainerName = "spark.kubernetes.driver.podTemplateContainerName"
)

// labelAppSelector is the label Spark gives the driver pod: the
// application id.
const labelAppSelector = "spark-app-selector"

// isKubeCluster reports a try whose driver is a pod that Sirocco tracks.
func (s settings) isKubeCluster() bool { return s.isK8s() && s.DeployMode == "cluster" }

// connectKube reaches the cluster of kubernetes connection id ("":
// kubernetes_default, else the default client, as Airflow does); its
// credentials are masked in the try's log.
func connectKube(ctx context.Context, t *operator.Task, id string) (*kube.Cluster, error) {
	ks, err := kube.Resolve(ctx, t.Connection, id)
	if err != nil {
		return nil, err
	}
	cl, err := t.Kube.Connect(ks)
	if err != nil {
		return nil, err
	}
	if t.Mask != nil {
		for _, secret := range cl.Secrets() {
			t.Mask(secret)
		}
	}
	return cl, nil
}

// kubeNamespace is where the driver pod goes: the task's or Spark
// connection's namespace, else the task's spark.kubernetes.namespace,
// else the kubernetes connection's (or its kubeconfig context's).
func kubeNamespace(s settings, conf map[string]string, cl *kube.Cluster) (string, error) {
	ns := s.Namespace
	if ns == "" {
		ns = strings.TrimSpace(conf[confNamespace])
	}
	if ns == "" {
		ns = cl.Namespace
	}
	if err := kube.CheckNamespace(ns); err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	return ns, nil
}

// runKube is Execute for a k8s:// master in cluster mode.
func runKube(ctx context.Context, t *operator.Task, s settings, args operator.Fields) (operator.Result, error) {
	conf := args.StringMap("conf")
	if _, set := conf[confPodName]; set {
		return operator.Result{}, fmt.Errorf("conf %s: Sirocco names the driver pod (one name per try, how a restart finds it); remove it", confPodName)
	}
	cl, err := connectKube(ctx, t, s.KubeConnID)
	if err != nil {
		return operator.Result{}, err
	}
	if s.Namespace, err = kubeNamespace(s, conf, cl); err != nil {
		return operator.Result{}, err
	}
	if s.Master == "k8s://" {
		s.Master = "k8s://" + cl.Config.Host // the kubernetes connection's apiserver
	}
	name := driverPodName(t.DagID, t.RunID, t.TaskID, t.TryNumber)
	s.Conf = map[string]string{confPodName: name, confWait: "false"}
	for k, v := range driverLabels(t) {
		s.Conf[confDriverLabel+k] = v
	}
	dir, err := os.MkdirTemp("", "sirocco-spark-k8s-")
	if err != nil {
		return operator.Result{}, fmt.Errorf("directory for spark-submit's credentials: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	auth, authEnv, err := submissionAuth(cl, dir)
	if err != nil {
		cleanup()
		return operator.Result{}, err
	}
	maps.Copy(s.Conf, auth)
	argv, procEnv, err := submitArgv(s, args, t.DagID, t.TaskID)
	if err != nil {
		cleanup()
		return operator.Result{}, err
	}
	env := maps.Clone(t.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, s.homes())
	maps.Copy(env, procEnv)
	maps.Copy(env, authEnv)
	h := &Handle{Kind: kindDriver, Version: handleVersion, ConnID: args.String("conn_id"), Master: s.Master, DeployMode: s.DeployMode,
		DriverPod: name, Kube: &KubeDriver{ConnID: cl.Settings.ConnID, Namespace: s.Namespace}}
	fmt.Fprintf(t.Log, "sirocco: %s; driver pod %s/%s\n", cl.Settings, s.Namespace, name)
	d := newDriverPod(newSubmission(t, s, h), cl, conf[confContainerName])
	return d.submit(ctx, argv, env, cleanup)
}

// driverLabels are the labels that name the try on its driver pod:
// Airflow's try labels and Sirocco's marker.
func driverLabels(t *operator.Task) map[string]string {
	l := kube.TryLabels(t.DagID, t.TaskID, t.RunID, t.TryNumber)
	delete(l, kube.LabelKPO) // not a kubernetes_pod operator's pod
	return l
}

// submissionAuth gives spark-submit the credentials of the kubernetes
// connection, the same ones Sirocco's client uses, as files (0600, in dir)
// named by Spark's spark.kubernetes.authenticate.submission.*File
// properties: a token or key never appears on a command line. KUBECONFIG
// then names no file, so that spark-submit's client (fabric8) reads no
// other credentials. Without a kubernetes connection (the default client)
// spark-submit finds the same kubeconfig or service account itself and
// nothing is passed. An exec plugin (a cloud provider's login) is passed
// as the kubeconfig file that names it.
func submissionAuth(cl *kube.Cluster, dir string) (map[string]string, map[string]string, error) {
	ks := cl.Settings
	if !ks.InCluster && ks.KubeConfigPath == "" && ks.KubeConfig == "" {
		return nil, nil, nil
	}
	cfg := cl.Config
	conf := map[string]string{}
	env := map[string]string{"KUBECONFIG": filepath.Join(dir, "no-kubeconfig")}
	if cfg.ExecProvider != nil || cfg.AuthProvider != nil {
		if ks.KubeConfigPath == "" {
			return nil, nil, fmt.Errorf("%s: its credentials come from an exec plugin or auth provider of an inline kubeconfig, "+
				"which spark-submit cannot be given: use kube_config_path, a token or a client certificate", ks)
		}
		env["KUBECONFIG"] = ks.KubeConfigPath
		if ks.Context != "" {
			conf[confContext] = ks.Context
		}
		return conf, env, nil
	}
	if cfg.Username != "" || cfg.Password != "" {
		return nil, nil, fmt.Errorf("%s: spark-submit cannot authenticate with a user name and password; use a token or a client certificate", ks)
	}
	files := []struct {
		data []byte
		path string
		conf string
	}{
		{cfg.CAData, cfg.CAFile, "caCertFile"},
		{[]byte(cfg.BearerToken), cfg.BearerTokenFile, "oauthTokenFile"},
		{cfg.CertData, cfg.CertFile, "clientCertFile"},
		{cfg.KeyData, cfg.KeyFile, "clientKeyFile"},
	}
	for _, f := range files {
		path := f.path
		if len(f.data) > 0 {
			path = filepath.Join(dir, f.conf)
			if err := os.WriteFile(path, f.data, 0o600); err != nil {
				return nil, nil, fmt.Errorf("write spark-submit's %s: %w", f.conf, err)
			}
		}
		if path != "" {
			conf[confAuth+f.conf] = path
		}
	}
	if cfg.Insecure {
		env["KUBERNETES_TRUST_CERTIFICATES"] = "true" // fabric8's; Spark has no property for it
	}
	return conf, env, nil
}
