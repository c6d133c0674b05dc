package preflight_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/preflight"
	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSpark: against the real standalone cluster, the master is reached,
// its REST server names the cluster's version and its UI its state; with
// the master down (nothing on its ports) the steps fail with the reason;
// local and yarn masters have nothing to reach.
func TestSpark(t *testing.T) {
	cl := testenv.Spark(t)
	mh, mp := hostPort(t, strings.TrimPrefix(cl.MasterURL, "spark://"))
	up := connection.Connection{ID: "spark_cluster", Type: "spark", Host: mh, Port: mp,
		Extra: map[string]string{"rest_url": cl.RESTURL, "master_ui": cl.MasterUI}}
	down := closedPort(t)
	dh, dp := hostPort(t, down)
	cases := []struct {
		name   string
		conn   connection.Connection
		want   string
		detail map[string]string
	}{
		{"cluster up", up, "dns=ok tcp=ok spark rest=ok spark master ui=ok", map[string]string{
			preflight.StepSparkREST: "Spark " + cl.Version, preflight.StepSparkUI: "is ALIVE with 1 alive worker(s)"}},
		{"master down", connection.Connection{ID: "spark_down", Type: "spark", Host: dh, Port: dp,
			Extra: map[string]string{"deploy_mode": "cluster", "rest_url": "http://" + down, "master_ui": "http://" + down}},
			"dns=ok tcp=failed spark rest=failed spark master ui=failed", map[string]string{
				preflight.StepTCP: "connection refused", preflight.StepSparkREST: "connection refused"}},
		{"client mode without rest_url", connection.Connection{ID: "spark_client", Type: "spark", Host: mh, Port: mp},
			"dns=ok tcp=ok spark rest=skipped", map[string]string{preflight.StepSparkREST: "set rest_url to check it"}},
		{"local", connection.Connection{ID: "spark_local", Type: "spark", Host: "local[2]"},
			"spark master=ok", map[string]string{preflight.StepSparkMaster: "nothing to reach"}},
		{"yarn", connection.Connection{ID: "spark_yarn", Type: "spark", Host: "yarn"},
			"spark master=skipped", map[string]string{preflight.StepSparkMaster: "HADOOP_CONF_DIR"}},
	}
	ck := &preflight.Checker{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ck.Check(t.Context(), tc.conn)
			if got := steps(r); got != tc.want {
				t.Fatalf("steps %s, want %s\n%s", got, tc.want, r.Text())
			}
			for name, want := range tc.detail {
				if d := step(t, r, name).Detail; !strings.Contains(d, want) {
					t.Errorf("%s detail %q does not contain %q\n%s", name, d, want, r.Text())
				}
			}
		})
	}
}

// TestKerberos: against the real KDC, a good principal and keytab get a
// ticket (principal and expiry reported) into a throwaway cache, never the
// default one; a stale keytab fails with the kerberos package's error.
func TestKerberos(t *testing.T) {
	realm := testenv.KDC(t)
	good := realm.AddPrincipal(t, "svc/host")
	stale := realm.AddPrincipal(t, "rotated")
	realm.RandomizeKey(t, "rotated")
	defaultCache := filepath.Join(t.TempDir(), "default-ccache")
	ck := &preflight.Checker{Kinit: realm.Kinit(),
		KerberosEnv: append(realm.Env(), "KRB5CCNAME=FILE:"+defaultCache)}
	cases := []struct {
		name, principal, keytab, want, detail string
	}{
		{"good keytab", realm.Principal("svc/host"), good, "ok", "ticket obtained for " + realm.Principal("svc/host") + ", expires "},
		{"stale keytab", realm.Principal("rotated"), stale, "failed", "kerberos login of " + realm.Principal("rotated") + " with keytab " + stale},
		{"no keytab", realm.Principal("svc/host"), "", "failed", "has a principal but no keytab"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connection.Connection{ID: "spark_local", Type: "spark", Host: "local[*]",
				Extra: map[string]string{"principal": tc.principal}}
			if tc.keytab != "" {
				c.Extra["keytab"] = tc.keytab
			}
			r := ck.Check(t.Context(), c)
			s := step(t, r, preflight.StepKerberos)
			if string(s.Outcome) != tc.want || !strings.Contains(s.Detail, tc.detail) {
				t.Fatalf("kerberos %s %q, want %s with %q\n%s", s.Outcome, s.Detail, tc.want, tc.detail, r.Text())
			}
		})
	}
	if matches, _ := filepath.Glob(defaultCache + "*"); len(matches) > 0 {
		t.Errorf("the check wrote the default ticket cache: %v", matches)
	}
}
