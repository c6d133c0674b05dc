package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// DefaultConnID is Airflow's default kubernetes connection. When no
// connection of that id exists, the default client is used (in-cluster,
// else $KUBECONFIG or ~/.kube/config), as Airflow does.
const DefaultConnID = "kubernetes_default"

// DefaultNamespace is where pods go when neither the task, the
// connection, the kubeconfig's context nor the in-cluster service account
// names a namespace.
const DefaultNamespace = "default"

// Secret is an inline kubeconfig: it prints, formats and logs as "***".
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return connection.Mask
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format hides the value from every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// Settings say how to reach one cluster, read from a kubernetes
// connection (FromConnection) and the task's overrides (Override). At
// most one of InCluster, KubeConfigPath and KubeConfig is set; none
// means the default client.
type Settings struct {
	ConnID           string
	InCluster        bool
	KubeConfigPath   string
	KubeConfig       Secret // inline kubeconfig, YAML or JSON
	Context          string // kubeconfig context; "" for its current-context
	Namespace        string // the connection's namespace; "" for none
	DisableVerifySSL bool
}

// extraKeys are the extras of Airflow's kubernetes connection that Sirocco
// reads; each may also carry Airflow's pre-2.3 prefix extra__kubernetes__.
var extraKeys = []string{
	"in_cluster", "kube_config_path", "kube_config", "cluster_context", "namespace", "disable_verify_ssl",
	"disable_tcp_keepalive", "xcom_sidecar_container_image", "xcom_sidecar_container_resources",
	"xcom_sidecar_container_security_context",
}

// Of these, disable_tcp_keepalive and the xcom_sidecar_* extras are
// accepted for Airflow's connections but change nothing here: Go's HTTP
// client keeps TCP keepalives on, and do_xcom_push reads the container's
// termination message rather than running a sidecar.

const extraPrefix = "extra__kubernetes__"

// FromConnection reads a connection of type kubernetes (Airflow's
// KubernetesHook extras, plain or prefixed): in_cluster,
// kube_config_path, kube_config, cluster_context, namespace,
// disable_verify_ssl. Unknown extras, host/login/password fields and more
// than one way to find the cluster are errors, naming the connection.
func FromConnection(c connection.Connection) (*Settings, error) {
	s, err := fromConnection(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes connection %s: %w", c.ID, err)
	}
	return s, nil
}

func fromConnection(c connection.Connection) (*Settings, error) {
	if t := connection.NormalizeType(c.Type); t != "kubernetes" && t != "k8s" {
		return nil, fmt.Errorf("conn_type is %q, expected kubernetes", c.Type)
	}
	if c.Host != "" || c.Login != "" || c.Password != "" || c.Port != 0 || c.Schema != "" {
		return nil, errors.New("host, port, login, password and schema are not used: " +
			"give the cluster in the extras kube_config_path, kube_config or in_cluster (Airflow's kubernetes connection)")
	}
	ex, err := canonicalExtras(c.Extra)
	if err != nil {
		return nil, err
	}
	s := &Settings{ConnID: c.ID, KubeConfigPath: strings.TrimSpace(ex["kube_config_path"]), KubeConfig: Secret(ex["kube_config"]),
		Context: strings.TrimSpace(ex["cluster_context"]), Namespace: strings.TrimSpace(ex["namespace"])}
	if s.InCluster, err = boolExtra(ex, "in_cluster"); err != nil {
		return nil, err
	}
	if s.DisableVerifySSL, err = boolExtra(ex, "disable_verify_ssl"); err != nil {
		return nil, err
	}
	if _, err := boolExtra(ex, "disable_tcp_keepalive"); err != nil {
		return nil, err
	}
	if s.Namespace != "" {
		if err := CheckNamespace(s.Namespace); err != nil {
			return nil, fmt.Errorf("extra namespace: %w", err)
		}
	}
	if strings.TrimSpace(string(s.KubeConfig)) == "" {
		s.KubeConfig = ""
	}
	return s, s.checkOneSource()
}

// checkOneSource rejects settings that name the cluster twice, as Airflow
// does: which one wins would be a guess.
func (s *Settings) checkOneSource() error {
	var set []string
	if s.InCluster {
		set = append(set, "in_cluster")
	}
	if s.KubeConfigPath != "" {
		set = append(set, "kube_config_path")
	}
	if s.KubeConfig != "" {
		set = append(set, "kube_config")
	}
	if len(set) > 1 {
		return fmt.Errorf("%s are mutually exclusive: give one way to reach the cluster", strings.Join(set, " and "))
	}
	if s.InCluster && s.Context != "" {
		return errors.New("cluster_context has no meaning with in_cluster")
	}
	return nil
}

// canonicalExtras strips Airflow's extra__kubernetes__ prefix, rejecting
// unknown keys and two spellings of one key that disagree.
func canonicalExtras(extra map[string]string) (map[string]string, error) {
	out := map[string]string{}
	from := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		n := strings.ToLower(strings.TrimSpace(k))
		n = strings.TrimPrefix(n, extraPrefix)
		if !slices.Contains(extraKeys, n) {
			return nil, fmt.Errorf("unknown extra %q (expected one of %s)", k, strings.Join(extraKeys, ", "))
		}
		if prev, dup := from[n]; dup && out[n] != v {
			return nil, fmt.Errorf("extras %s and %s both set %s, to different values", prev, k, n)
		}
		out[n], from[n] = v, k
	}
	return out, nil
}

// boolExtra reads a boolean extra; "" is false.
func boolExtra(ex map[string]string, key string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(ex[key])) {
	case "", "false", "no", "off", "0", "null":
		return false, nil
	case "true", "yes", "on", "1":
		return true, nil
	}
	return false, fmt.Errorf("extra %s %q must be true or false", key, ex[key])
}

// Overrides are the task's fields that Airflow's KubernetesPodOperator
// lets override the connection: in_cluster, cluster_context, config_file.
type Overrides struct {
	InCluster  *bool
	Context    string
	ConfigFile string
}

// Override applies the task's overrides to a copy of s: a config_file or
// in_cluster replaces the connection's way to reach the cluster.
func (s Settings) Override(o Overrides) (*Settings, error) {
	if o.ConfigFile != "" {
		s.KubeConfigPath, s.KubeConfig, s.InCluster = o.ConfigFile, "", false
	}
	if o.InCluster != nil {
		s.InCluster = *o.InCluster
		if s.InCluster {
			s.KubeConfigPath, s.KubeConfig, s.Context = "", "", ""
		}
	}
	if o.Context != "" {
		s.Context = o.Context
	}
	if err := s.checkOneSource(); err != nil {
		return nil, fmt.Errorf("kubernetes connection %s with the task's overrides: %w", s.ConnID, err)
	}
	return &s, nil
}

// Lookup resolves a connection id (Task.Connection).
type Lookup func(ctx context.Context, id string) (connection.Connection, error)

// Resolve reads the settings of connection id. The default id that names
// no connection gives the default client (Airflow's behaviour); any other
// missing id is an error.
func Resolve(ctx context.Context, lookup Lookup, id string) (*Settings, error) {
	if id == "" {
		id = DefaultConnID
	}
	if lookup == nil {
		return nil, errors.New("this process resolves no connections: kubernetes tasks cannot run here")
	}
	c, err := lookup(ctx, id)
	if err != nil {
		if id == DefaultConnID && errors.Is(err, store.ErrNotFound) {
			return &Settings{ConnID: id}, nil
		}
		return nil, fmt.Errorf("kubernetes_conn_id %s: %w", id, err)
	}
	return FromConnection(c)
}

// String describes the settings without the inline kubeconfig.
func (s *Settings) String() string {
	var where string
	switch {
	case s.InCluster:
		where = "in-cluster service account"
	case s.KubeConfigPath != "":
		where = "kubeconfig " + s.KubeConfigPath
	case s.KubeConfig != "":
		where = "inline kubeconfig"
	default:
		where = "default client (in-cluster, else $KUBECONFIG or ~/.kube/config)"
	}
	if s.Context != "" {
		where += ", context " + s.Context
	}
	if s.DisableVerifySSL {
		where += ", TLS certificate NOT verified"
	}
	return fmt.Sprintf("kubernetes connection %s: %s", s.ConnID, where)
}
