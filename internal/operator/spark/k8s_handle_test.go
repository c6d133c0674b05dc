package spark

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/kube"
)

// TestDriverPodName: one valid, short name per try, the same every time
// it is asked for (what makes a resubmission find the first pod).
func TestDriverPodName(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, try := range []struct {
		dag, run, task string
		n              int
	}{
		{"d", "r", "pi", 1}, {"d", "r", "pi", 2}, {"d", "r2", "pi", 1}, {"d2", "r", "pi", 1},
		{"d", "r", strings.Repeat("Very_Long.Task-", 10), 1}, {"d", "r", "___", 1}, {"d", "r", "É", 1},
		{"d", "manual__2026-01-01T00:00:00+00:00", "group.task", 3},
	} {
		name := driverPodName(try.dag, try.run, try.task, try.n)
		id := fmt.Sprint(try)
		if err := kube.CheckPodName(name); err != nil || len(name) > driverPodNameMax || !strings.HasSuffix(name, "-driver") {
			t.Errorf("%s: %q (%d characters): %v", id, name, len(name), err)
		}
		if again := driverPodName(try.dag, try.run, try.task, try.n); again != name {
			t.Errorf("%s: %q then %q", id, name, again)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s share %q", id, other, name)
		}
		seen[name] = id
	}
}

// TestSubmissionAuth: the kubernetes connection's credentials reach
// spark-submit as files only it can read, named by Spark's *File
// properties, with KUBECONFIG pointing nowhere; an exec plugin passes as
// the kubeconfig that names it, or is refused inline; the default client
// passes nothing.
func TestSubmissionAuth(t *testing.T) {
	t.Parallel()
	const token = "tok-SECRET-1"
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt") // a file is passed as it is (inline data is written: TestKubeDriverPod)
	writeFile(t, ca, "")
	withToken := filepath.Join(dir, "token.yaml")
	writeFile(t, withToken, kubeconfig("user: {token: "+token+"}", "certificate-authority: "+ca))
	withExec := filepath.Join(dir, "exec.yaml")
	exec := "user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}}"
	writeFile(t, withExec, kubeconfig(exec, "insecure-skip-tls-verify: true"))

	connect := func(s kube.Settings) *kube.Cluster {
		cl, err := s.Connect()
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	files := t.TempDir()
	conf, env, err := submissionAuth(connect(kube.Settings{ConnID: "k", KubeConfigPath: withToken}), files)
	if err != nil {
		t.Fatal(err)
	}
	if conf[confAuth+"caCertFile"] != ca {
		t.Errorf("caCertFile = %q, want %s", conf[confAuth+"caCertFile"], ca)
	}
	for name, want := range map[string]string{"oauthTokenFile": token} {
		path := conf[confAuth+name]
		if filepath.Dir(path) != files {
			t.Errorf("%s = %q, want a file in %s", name, path, files)
			continue
		}
		b, err := os.ReadFile(path)
		st, _ := os.Stat(path)
		if err != nil || string(b) != want || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q, mode %v, %v; want %q readable by its owner only", name, b, st.Mode(), err, want)
		}
	}
	for k, v := range conf {
		if strings.Contains(v, token) {
			t.Errorf("conf %s holds the token", k)
		}
	}
	if env["KUBECONFIG"] != filepath.Join(files, "no-kubeconfig") || len(conf) != 2 {
		t.Errorf("conf %v, env %v", conf, env)
	}

	conf, env, err = submissionAuth(connect(kube.Settings{ConnID: "k", KubeConfigPath: withExec, Context: "main"}), t.TempDir())
	if err != nil || env["KUBECONFIG"] != withExec || conf[confContext] != "main" || len(conf) != 1 {
		t.Errorf("exec plugin in a file: conf %v, env %v, %v", conf, env, err)
	}
	inline := kube.Settings{ConnID: "k", KubeConfig: kube.Secret(kubeconfig(exec, "insecure-skip-tls-verify: true"))}
	if _, _, err := submissionAuth(connect(inline), t.TempDir()); err == nil || !strings.Contains(err.Error(), "use kube_config_path") {
		t.Errorf("exec plugin inline: %v", err)
	}
	basic := kube.Settings{ConnID: "k", KubeConfig: kube.Secret(kubeconfig("user: {username: u, password: p}", "insecure-skip-tls-verify: true"))}
	if _, _, err := submissionAuth(connect(basic), t.TempDir()); err == nil || !strings.Contains(err.Error(), "user name and password") {
		t.Errorf("basic auth: %v", err)
	}
	insecure := kube.Settings{ConnID: "k", KubeConfig: kube.Secret(kubeconfig("user: {token: t}", "insecure-skip-tls-verify: true"))}
	if _, env, err := submissionAuth(connect(insecure), t.TempDir()); err != nil || env["KUBERNETES_TRUST_CERTIFICATES"] != "true" {
		t.Errorf("insecure: %v, %v", env, err)
	}
	if conf, env, err := submissionAuth(&kube.Cluster{Settings: &kube.Settings{ConnID: kube.DefaultConnID}}, t.TempDir()); conf != nil || env != nil || err != nil {
		t.Errorf("default client: %v, %v, %v", conf, env, err)
	}
}

func kubeconfig(user, cluster string) string {
	return `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", ` + cluster + `}}]
users: [{name: u, ` + user + `}]
contexts: [{name: main, context: {cluster: c, user: u}}]
current-context: main
`
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
