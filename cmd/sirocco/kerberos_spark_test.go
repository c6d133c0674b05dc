package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestSparkSubmitKerberosLogin: a connection's principal and keytab reach
// spark-submit as --principal/--keytab. In local mode (any master but a
// standalone one) spark-submit logs in from the keytab before the
// application starts (UserGroupInformation.loginUserFromKeytab, once
// hadoop.security.authentication is kerberos): a good keytab passes the
// login at the real KDC, a wrong one fails the task with Hadoop's Kerberos
// error. On a standalone master spark-submit skips the login ("Kerberos is
// not supported in standalone mode"), so a wrong keytab goes unnoticed.
// The task log shows the keytab's path, never its content.
func TestSparkSubmitKerberosLogin(t *testing.T) {
	cl := testenv.Spark(t)
	realm := testenv.KDC(t)
	good := realm.AddPrincipal(t, "spark/worker")
	const marker = "KEYTAB-CONTENT-must-not-be-logged"
	bad := filepath.Join(t.TempDir(), "bad.keytab")
	if err := os.WriteFile(bad, []byte(marker), 0o600); err != nil {
		t.Fatal(err)
	}
	hconf := t.TempDir()
	coreSite := `<configuration><property><name>hadoop.security.authentication</name><value>kerberos</value></property></configuration>`
	if err := os.WriteFile(filepath.Join(hconf, "core-site.xml"), []byte(coreSite), 0o644); err != nil {
		t.Fatal(err)
	}
	task := func(id, conn string) string {
		return fmt.Sprintf("  - {id: %s, operator: spark_submit, conn_id: %s, application: app.py, driver_memory: 512m}\n", id, conn)
	}
	s := newSite(t, map[string]string{"k.yaml": "dag_id: k\ntasks:\n" +
		task("local_good", "local_good") + task("local_bad", "local_bad") + task("standalone_bad", "standalone_bad")})
	s.write("app.py", "print('application ran')\n")
	principal := url.QueryEscape(realm.Principal("spark/worker"))
	conn := func(master, keytab string) string {
		return "spark://?master=" + url.QueryEscape(master) + "&principal=" + principal + "&keytab=" + url.QueryEscape(keytab)
	}
	s.extraEnv = append(append(cl.Env(), realm.Env()...),
		"HADOOP_CONF_DIR="+hconf,
		"SPARK_SUBMIT_OPTS=-Djava.security.krb5.conf="+realm.Config, // the JVM does not read KRB5_CONFIG
		"SIROCCO_CONN_LOCAL_GOOD="+conn("local[1]", good),
		"SIROCCO_CONN_LOCAL_BAD="+conn("local[1]", bad),
		"SIROCCO_CONN_STANDALONE_BAD="+conn(cl.MasterURL, bad))

	s.startServer()
	if _, errOut, code := s.run("dags", "trigger", "k", "--run-id", "r", "--wait"); code != 1 {
		t.Fatalf("the run must fail (local_bad) and end: exit %d\n%s", code, errOut)
	}
	logs := func(task string) string { return s.mustRun("tasks", "logs", "k", "r", task) }
	state := func(task string) string { return strings.TrimSpace(s.mustRun("tasks", "state", "k", "r", task)) }

	out := logs("local_good")
	if state("local_good") != "success" || !strings.Contains(out, "--principal "+realm.Principal("spark/worker")) ||
		!strings.Contains(out, "--keytab "+good) || !strings.Contains(out, "application ran") {
		t.Errorf("local spark-submit with a good keytab (%s):\n%s", state("local_good"), out)
	}

	out = logs("local_bad")
	if state("local_bad") != "failed" ||
		!strings.Contains(out, "KerberosAuthException: failure to login: for principal: "+realm.Principal("spark/worker")+" from keytab "+bad) ||
		strings.Contains(out, "application ran") {
		t.Errorf("local spark-submit with a wrong keytab (%s) must fail at the login:\n%s", state("local_bad"), out)
	}
	if strings.Contains(out, marker) {
		t.Errorf("the keytab's content is in the task log:\n%s", out)
	}

	out = logs("standalone_bad")
	if state("standalone_bad") != "success" || !strings.Contains(out, "--keytab "+bad) || !strings.Contains(out, "application ran") ||
		strings.Contains(out, "KerberosAuthException") {
		t.Errorf("standalone spark-submit ignores the keytab, so a wrong one passes (%s):\n%s", state("standalone_bad"), out)
	}
	if strings.Contains(out, marker) {
		t.Errorf("the keytab's content is in the task log:\n%s", out)
	}
}
