package spark

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// settings is where a Spark task runs: the connection's values, overridden
// by the task's own fields, as Airflow's SparkSubmitHook resolves them.
type settings struct {
	Master      string // spark://host:port, yarn, k8s://..., local[*]
	DeployMode  string // client | cluster
	SparkBinary string // spark-submit, or a path
	SparkHome   string
	JavaHome    string // JAVA_HOME of spark-submit (java_home)
	Queue       string
	Namespace   string
	Principal   string
	Keytab      string
	RESTURL     string // standalone REST submission server
	RESTToken   string // bearer token for masters behind Spark's JWS filter
	MasterUI    string // master web UI (for /json and links)
	// KubeConnID is the kubernetes connection of a k8s:// master (extra
	// kubernetes_conn_id; "" for kubernetes_default): how Sirocco, and
	// spark-submit, reach the apiserver (k8s.go).
	KubeConnID string
	// Conf are Spark properties Sirocco sets itself, after the task's
	// conf so that they win (the driver pod's name on Kubernetes).
	Conf map[string]string
}

// defaultConnID is conn_id's default: when no such connection exists,
// Spark runs in local mode.
const defaultConnID = "spark_default"

// extra reads a connection extra under its snake_case or Airflow's
// kebab-case name.
func extra(m map[string]string, name string) string {
	if v := m[name]; v != "" {
		return v
	}
	return m[strings.ReplaceAll(name, "_", "-")]
}

// resolve builds the settings of a task from its connection (conn_id)
// and its own overriding fields.
func resolve(ctx context.Context, t *operator.Task, args operator.Fields) (settings, error) {
	var s settings
	id := args.String("conn_id")
	conn, err := t.Connection(ctx, id)
	switch {
	case err != nil && id == defaultConnID && errors.Is(err, store.ErrNotFound):
		conn = connection.Connection{} // no default connection: run in local mode
	case err != nil:
		return s, fmt.Errorf("connection %q: %w", id, err)
	}
	ex := conn.Extra
	s.Master = extra(ex, "master")
	host := conn.Host
	switch {
	case s.Master != "":
	case host == "yarn" || strings.HasPrefix(host, "local") || strings.HasPrefix(host, "k8s://"):
		s.Master = host
	case host != "":
		port := conn.Port
		if port == 0 {
			port = 7077
		}
		s.Master = "spark://" + net.JoinHostPort(strings.TrimPrefix(host, "spark://"), strconv.Itoa(port))
	default:
		s.Master = "local[*]"
	}
	s.DeployMode = extra(ex, "deploy_mode")
	s.SparkBinary = extra(ex, "spark_binary")
	s.SparkHome = extra(ex, "spark_home")
	s.JavaHome = extra(ex, "java_home")
	s.Queue = extra(ex, "queue")
	s.Namespace = extra(ex, "namespace")
	s.Principal = extra(ex, "principal")
	s.Keytab = extra(ex, "keytab")
	s.RESTURL = extra(ex, "rest_url")
	s.RESTToken = extra(ex, "rest_token")
	if s.RESTToken == "" {
		s.RESTToken = conn.Password
	}
	s.MasterUI = extra(ex, "master_ui")
	s.KubeConnID = extra(ex, "kubernetes_conn_id")
	if strings.HasPrefix(s.Master, "spark://") {
		h := strings.TrimPrefix(s.Master, "spark://")
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			h = h[:i]
		}
		if s.RESTURL == "" {
			s.RESTURL = "http://" + net.JoinHostPort(h, "6066")
		}
		if s.MasterUI == "" {
			s.MasterUI = "http://" + net.JoinHostPort(h, "8080")
		}
	}
	// The task's own fields win over the connection's.
	for name, dst := range map[string]*string{
		"deploy_mode": &s.DeployMode, "spark_binary": &s.SparkBinary, "queue": &s.Queue,
		"namespace": &s.Namespace, "principal": &s.Principal, "keytab": &s.Keytab,
	} {
		if v := args.String(name); v != "" {
			*dst = v
		}
	}
	if s.DeployMode == "" {
		s.DeployMode = "client"
	}
	if s.DeployMode != "client" && s.DeployMode != "cluster" {
		return s, fmt.Errorf("deploy_mode must be client or cluster, not %q", s.DeployMode)
	}
	if s.SparkBinary == "" {
		s.SparkBinary = "spark-submit"
	}
	if s.SparkHome != "" && !strings.Contains(s.SparkBinary, "/") {
		s.SparkBinary = strings.TrimRight(s.SparkHome, "/") + "/bin/" + s.SparkBinary
	}
	if s.RESTToken != "" {
		t.Mask(s.RESTToken)
	}
	return s, nil
}

// homes is the environment the connection sets for spark-submit: SPARK_HOME
// and JAVA_HOME when it names them (the Spark and Java of the host that
// runs spark-submit, an edge node with ssh_conn_id).
func (s settings) homes() map[string]string {
	env := map[string]string{}
	if s.SparkHome != "" {
		env["SPARK_HOME"] = s.SparkHome
	}
	if s.JavaHome != "" {
		env["JAVA_HOME"] = s.JavaHome
	}
	return env
}

func (s settings) isYARN() bool       { return s.Master == "yarn" || strings.HasPrefix(s.Master, "yarn") }
func (s settings) isK8s() bool        { return strings.HasPrefix(s.Master, "k8s://") }
func (s settings) isStandalone() bool { return strings.HasPrefix(s.Master, "spark://") }
