package preflight

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/spark"
)

// Spark step names.
const (
	StepSparkMaster = "spark master"
	StepSparkREST   = "spark rest"
	StepSparkUI     = "spark master ui"
)

// sparkEndpoints is what a spark connection points at, derived as the
// spark operators derive it (operator/spark settings.resolve).
type sparkEndpoints struct {
	master     string // spark://host:port, yarn, k8s://..., local[*]
	cluster    bool   // deploy_mode cluster
	rest, ui   string // REST submission server and master web UI
	restGiven  bool   // rest_url set on the connection, not derived
	uiGiven    bool   // master_ui likewise
	token      string // rest_token or the password
	reachAddr  string // host:port of the master, for dns and tcp
	restSameAs bool   // the REST server is on the master's host
}

// sparkExtra reads an extra under its snake_case or kebab-case name.
func sparkExtra(m map[string]string, name string) string {
	if v := m[name]; v != "" {
		return v
	}
	return m[strings.ReplaceAll(name, "_", "-")]
}

func sparkEndpointsOf(c connection.Connection) sparkEndpoints {
	ex := c.Extra
	e := sparkEndpoints{master: sparkExtra(ex, "master"), cluster: sparkExtra(ex, "deploy_mode") == "cluster"}
	switch host := c.Host; {
	case e.master != "":
	case host == "yarn" || strings.HasPrefix(host, "local") || strings.HasPrefix(host, "k8s://"):
		e.master = host
	case host != "":
		port := c.Port
		if port == 0 {
			port = defaultPorts["spark"]
		}
		e.master = "spark://" + net.JoinHostPort(strings.TrimPrefix(host, "spark://"), strconv.Itoa(port))
	default:
		e.master = "local[*]"
	}
	e.rest, e.ui = sparkExtra(ex, "rest_url"), sparkExtra(ex, "master_ui")
	e.restGiven, e.uiGiven = e.rest != "", e.ui != ""
	e.token = sparkExtra(ex, "rest_token")
	if e.token == "" {
		e.token = c.Password
	}
	if hostPort, ok := strings.CutPrefix(e.master, "spark://"); ok {
		hostPort, _, _ = strings.Cut(hostPort, ",") // HA: the first master
		e.reachAddr = hostPort
		h, _, err := net.SplitHostPort(hostPort)
		if err != nil {
			h = hostPort
			e.reachAddr = net.JoinHostPort(h, strconv.Itoa(defaultPorts["spark"]))
		}
		if e.rest == "" {
			e.rest = "http://" + net.JoinHostPort(h, "6066")
		}
		if e.ui == "" {
			e.ui = "http://" + net.JoinHostPort(h, "8080")
		}
		if u, err := url.Parse(e.rest); err == nil && u.Hostname() == h {
			e.restSameAs = true
		}
	}
	return e
}

// sparkProvider: a standalone master is reached (dns, tcp to its RPC
// port) and its REST submission server asked for its version, and its web
// UI for its state, when the connection sets them or uses cluster mode
// (where Sirocco tracks drivers through them). Local mode has nothing to
// reach; YARN's ResourceManager is found by spark-submit, not here.
func sparkProvider(_ context.Context, _ *Checker, c connection.Connection) (Plan, error) {
	e := sparkEndpointsOf(c)
	switch {
	case e.master == "local" || strings.HasPrefix(e.master, "local["):
		return Plan{Local: true, Checks: []Check{{Name: StepSparkMaster, Target: e.master,
			Run: func(context.Context) (string, error) {
				return "Spark's local mode runs in the task's own process; nothing to reach", nil
			}}}}, nil
	case strings.HasPrefix(e.master, "yarn"):
		return Plan{Local: true, Checks: []Check{{Name: StepSparkMaster, Target: e.master,
			Detail: "not checked: spark-submit finds the YARN ResourceManager through HADOOP_CONF_DIR or YARN_CONF_DIR"}}}, nil
	case strings.HasPrefix(e.master, "k8s://"):
		addr, err := DialTarget(connection.Connection{ID: c.ID, Type: "k8s", Host: strings.TrimPrefix(e.master, "k8s://")})
		if err != nil {
			addr, err = DialTarget(connection.Connection{ID: c.ID, Type: "https", Host: "https://" + strings.TrimPrefix(e.master, "k8s://")})
		}
		return Plan{Reach: addr}, err
	case !strings.HasPrefix(e.master, "spark://"):
		return Plan{}, fmt.Errorf("master %q is not local, yarn, k8s://... or spark://host:port", e.master)
	}
	client := &spark.Client{RESTURL: e.rest, MasterUIURL: e.ui, Token: e.token}
	plan := Plan{Reach: e.reachAddr}
	restNeeds := []string(nil)
	if e.restSameAs {
		restNeeds = []string{StepDNS}
	}
	if e.restGiven || e.cluster {
		plan.Checks = append(plan.Checks, Check{Name: StepSparkREST, Target: e.rest, Needs: restNeeds,
			Run: func(ctx context.Context) (string, error) { return restVersion(ctx, client) }})
	} else {
		plan.Checks = append(plan.Checks, Check{Name: StepSparkREST, Target: e.rest,
			Detail: "not checked: client mode does not use the REST submission server (set rest_url to check it)"})
	}
	if e.uiGiven || e.cluster {
		plan.Checks = append(plan.Checks, Check{Name: StepSparkUI, Target: e.ui,
			Run: func(ctx context.Context) (string, error) { return masterState(ctx, client) }})
	}
	return plan, nil
}

func restVersion(ctx context.Context, c *spark.Client) (string, error) {
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return "", err
	}
	return "the REST submission server answers: Spark " + v, nil
}

func masterState(ctx context.Context, c *spark.Client) (string, error) {
	st, err := c.Master(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("master %s is %s with %d alive worker(s), %d core(s) and %d MiB", st.URL, st.Status,
		st.AliveWorkers, st.Cores, st.Memory), nil
}
