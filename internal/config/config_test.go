package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	home := t.TempDir()
	file := "dags_folder: /from/file\nparallelism: 3\npoll_interval: 2s\ndatabase_url: postgres://u:secret@127.0.0.1/db\n"
	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIROCCO_HOME", home)
	t.Setenv("SIROCCO_PARALLELISM", "5")
	t.Setenv("SIROCCO_DAGS_FOLDER", "/from/env")

	c, err := Load(map[string]string{"dags_folder": "/from/flag"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DagsFolder != "/from/flag" {
		t.Errorf("dags_folder = %q, want the flag's", c.DagsFolder)
	}
	if c.Parallelism != 5 {
		t.Errorf("parallelism = %d, want the environment's 5", c.Parallelism)
	}
	if c.PollInterval != 2*time.Second {
		t.Errorf("poll_interval = %s, want the file's 2s", c.PollInterval)
	}
	if c.ZombieAfter != Defaults().ZombieAfter {
		t.Errorf("zombie_threshold = %s, want the default", c.ZombieAfter)
	}
	for _, e := range c.Entries() {
		if e.Key == "database_url" && e.Value != "postgres://u:***@127.0.0.1/db" {
			t.Errorf("config list shows database_url %q; the password must be hidden", e.Value)
		}
	}
}

func TestDefaultsDeriveFromHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("SIROCCO_HOME", home)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite://" + filepath.Join(home, "sirocco.db"); c.DatabaseURL != want {
		t.Errorf("database_url = %q, want %q", c.DatabaseURL, want)
	}
	if c.LogsDir() != filepath.Join(home, "logs") {
		t.Errorf("logs dir = %q", c.LogsDir())
	}
}

func TestBadValuesAreErrors(t *testing.T) {
	cases := []struct{ file, want string }{
		{"parallelism: many\n", `parallelism: expected a positive integer, got "many"`},
		{"poll_interval: soon\n", `poll_interval: expected a duration like 500ms or 30s, got "soon"`},
		{"paralelism: 3\n", `unknown setting "paralelism"`},
	}
	for _, tc := range cases {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SIROCCO_HOME", home)
		_, err := Load(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
}

func TestAPITokenIsReadButNeverListed(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte("api_token: from-file-Tok3n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIROCCO_HOME", home)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIToken != "from-file-Tok3n" {
		t.Errorf("api_token from sirocco.yaml = %q", c.APIToken)
	}
	t.Setenv("SIROCCO_API_TOKEN", "from-env-Tok3n")
	if c, err = Load(nil); err != nil {
		t.Fatal(err)
	}
	if c.APIToken != "from-env-Tok3n" {
		t.Errorf("api_token = %q, want SIROCCO_API_TOKEN's", c.APIToken)
	}
	found := false
	for _, e := range c.Entries() {
		if strings.Contains(e.Value, "Tok3n") {
			t.Errorf("config list shows the API token under %s: %q", e.Key, e.Value)
		}
		if e.Key == "api_token" {
			found = true
			if e.Value != "***" || e.Env != "SIROCCO_API_TOKEN" {
				t.Errorf("api_token entry = %+v, want *** from SIROCCO_API_TOKEN", e)
			}
		}
	}
	if !found {
		t.Error("config list lacks api_token")
	}
}

func TestDagsFolderIsNeverRelativeToTheWorkingDirectory(t *testing.T) {
	home, elsewhere := t.TempDir(), t.TempDir()
	t.Setenv("SIROCCO_HOME", home)
	t.Setenv("SIROCCO_DAGS_FOLDER", "")
	t.Chdir(elsewhere)
	if err := os.MkdirAll(filepath.Join(elsewhere, "dags"), 0o755); err != nil {
		t.Fatal(err)
	}

	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "dags"); c.DagsFolder != want {
		t.Errorf("default dags_folder = %q, want %q (not the working directory's ./dags)", c.DagsFolder, want)
	}

	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte("dags_folder: pipelines\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(nil); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "pipelines"); c.DagsFolder != want {
		t.Errorf("sirocco.yaml's relative dags_folder = %q, want %q (relative to the home)", c.DagsFolder, want)
	}

	t.Setenv("SIROCCO_DAGS_FOLDER", "typed/here")
	if c, err = Load(nil); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(elsewhere, "typed/here"); c.DagsFolder != want {
		t.Errorf("environment's relative dags_folder = %q, want %q (absolute from where it was typed)", c.DagsFolder, want)
	}
}

// TestBlankAPITokenIsRefused: a token that is empty or only whitespace,
// from the environment or sirocco.yaml, stops Sirocco with an error naming
// the setting, instead of being taken as a token nobody can send (or as
// no token at all). Surrounding whitespace of a real token is dropped.
func TestBlankAPITokenIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        *string
	}{
		{name: "empty env", env: ptr("")},
		{name: "whitespace env", env: ptr(" \t\n")},
		{name: "empty in file", file: "api_token: \"\"\n"},
		{name: "whitespace in file", file: "api_token: \"   \"\n"},
		{name: "no value in file", file: "api_token:\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SIROCCO_HOME", home)
			if tc.env != nil {
				t.Setenv("SIROCCO_API_TOKEN", *tc.env)
			} else {
				t.Setenv("SIROCCO_API_TOKEN", "x") // t.Setenv restores it; unset for this case
				os.Unsetenv("SIROCCO_API_TOKEN")
			}
			c, err := Load(nil)
			if err == nil || !strings.Contains(err.Error(), "api_token is set but blank") {
				t.Fatalf("Load = %q, %v; want the blank api_token refused", c.APIToken, err)
			}
			if tc.env != nil && !strings.HasPrefix(err.Error(), "environment: SIROCCO_API_TOKEN: ") {
				t.Errorf("Load = %v; want the error to name the variable", err)
			}
		})
	}
	home := t.TempDir()
	t.Setenv("SIROCCO_HOME", home)
	t.Setenv("SIROCCO_API_TOKEN", "  Tok3n-from-a-file\n")
	c, err := Load(nil)
	if err != nil || c.APIToken != "Tok3n-from-a-file" {
		t.Errorf("Load = %q, %v; want the token without its whitespace", c.APIToken, err)
	}
}

func ptr(s string) *string { return &s }

// TestKerberosSection: the kerberos: section of sirocco.yaml, overridden
// by SIROCCO_KERBEROS_* and by flags keyed kerberos.<name>; relative paths
// in the file are relative to the home, elsewhere to the working directory.
func TestKerberosSection(t *testing.T) {
	home := t.TempDir()
	file := "kerberos:\n  principal: sirocco/_HOST@EXAMPLE.COM\n  keytab: sirocco.keytab\n  reinit_frequency: 10m\n"
	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIROCCO_HOME", home)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Kerberos{Principal: "sirocco/_HOST@EXAMPLE.COM", Keytab: filepath.Join(home, "sirocco.keytab"),
		CCache: filepath.Join(home, "krb5cc"), ReinitFrequency: 10 * time.Minute, KinitPath: "kinit"}
	if c.Kerberos != want || !c.Kerberos.Enabled() {
		t.Errorf("kerberos from the file = %+v, want %+v", c.Kerberos, want)
	}

	t.Setenv("SIROCCO_KERBEROS_REINIT_FREQUENCY", "30s")
	t.Setenv("SIROCCO_KERBEROS_CCACHE", "FILE:cc/krb5")
	c, err = Load(map[string]string{"kerberos.principal": "other@EXAMPLE.COM"})
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if c.Kerberos.Principal != "other@EXAMPLE.COM" || c.Kerberos.ReinitFrequency != 30*time.Second ||
		c.Kerberos.CCache != "FILE:"+filepath.Join(cwd, "cc/krb5") {
		t.Errorf("kerberos with environment and flag = %+v", c.Kerberos)
	}
	t.Setenv("SIROCCO_KERBEROS_CCACHE", "KEYRING:persistent:1000")
	if c, _ = Load(nil); c.Kerberos.CCache != "KEYRING:persistent:1000" {
		t.Errorf("a non-file ticket cache was changed to %q", c.Kerberos.CCache)
	}

	keys := map[string]bool{}
	for _, e := range c.Entries() {
		keys[e.Key+" "+e.Env] = true
	}
	for _, k := range []string{"kerberos.principal SIROCCO_KERBEROS_PRINCIPAL", "kerberos.keytab SIROCCO_KERBEROS_KEYTAB",
		"kerberos.ccache SIROCCO_KERBEROS_CCACHE", "kerberos.reinit_frequency SIROCCO_KERBEROS_REINIT_FREQUENCY"} {
		if !keys[k] {
			t.Errorf("config list has no %s", k)
		}
	}
}

func TestKerberosSectionErrors(t *testing.T) {
	cases := []struct{ file, want string }{
		{"kerberos: yes\n", `kerberos: expected a section with principal, keytab, ccache, reinit_frequency, kinit_path, got "yes"`},
		{"kerberos:\n  principle: x\n", `unknown setting "kerberos.principle"`},
		{"kerberos:\n  reinit_frequency: 3600\n", `kerberos.reinit_frequency: expected a duration like 500ms or 30s, got "3600"`},
		{"parallelism:\n  a: 1\n", `parallelism: expected a single value, got a mapping`},
		{"kerberos:\n", ""},
	}
	for _, tc := range cases {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SIROCCO_HOME", home)
		c, err := Load(nil)
		if tc.want == "" {
			if err != nil || c.Kerberos.Enabled() {
				t.Errorf("%q: %v, enabled %v", tc.file, err, c.Kerberos.Enabled())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
}

// TestCheckExecutor: the executor's name, PostgreSQL for worker pods, an
// image, a queue under local_kubernetes; each error names its setting.
func TestCheckExecutor(t *testing.T) {
	pg := "postgres://u:pw@db:5432/sirocco"
	k := KubernetesExecutor{Image: "img", Queue: "kubernetes"}
	cases := []struct {
		c    Config
		want []string
	}{
		{Config{Executor: "local", DatabaseURL: "sqlite:///x.db"}, nil},
		{Config{Executor: "kubernetes", DatabaseURL: pg, KubernetesExecutor: k}, nil},
		{Config{Executor: "celery"}, []string{`executor: expected local, kubernetes or local_kubernetes, got "celery"`}},
		{Config{Executor: "kubernetes", DatabaseURL: "sqlite:///x.db", KubernetesExecutor: k}, []string{"database_url: executor kubernetes runs tries in pods"}},
		{Config{Executor: "kubernetes", DatabaseURL: pg}, []string{"kubernetes_executor.image: expected"}},
		{Config{Executor: "local_kubernetes", DatabaseURL: "sqlite:///x.db", KubernetesExecutor: KubernetesExecutor{PodTemplateFile: "/t.yaml"}},
			[]string{"database_url:", "kubernetes_executor.queue: expected"}},
	}
	for _, c := range cases {
		err := c.c.CheckExecutor()
		if len(c.want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", c.c, err)
			}
			continue
		}
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", c.c.Executor, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the database password: %v", err)
		}
	}
}

// TestKubernetesExecutorSection: the section's keys from the file and the
// environment, booleans included, with Airflow's defaults.
func TestKubernetesExecutorSection(t *testing.T) {
	home := t.TempDir()
	file := "executor: kubernetes\nkubernetes_executor:\n  namespace: jobs\n  delete_worker_pods: false\n  pod_template_file: pod.yaml\n"
	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIROCCO_HOME", home)
	t.Setenv("SIROCCO_KUBERNETES_EXECUTOR_DELETE_WORKER_PODS_ON_FAILURE", "true")
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := c.KubernetesExecutor
	if c.Executor != "kubernetes" || k.Namespace != "jobs" || k.DeletePods || !k.DeleteOnFailure || k.Queue != "kubernetes" ||
		k.ConnID != "kubernetes_default" || k.PendingTimeout != 5*time.Minute || k.PodTemplateFile != filepath.Join(home, "pod.yaml") {
		t.Errorf("section %+v", k)
	}
	if err := os.WriteFile(filepath.Join(home, "sirocco.yaml"), []byte("kubernetes_executor:\n  delete_worker_pods: maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(nil); err == nil || !strings.Contains(err.Error(), `kubernetes_executor.delete_worker_pods: expected true or false, got "maybe"`) {
		t.Errorf("a bad boolean: %v", err)
	}
}
