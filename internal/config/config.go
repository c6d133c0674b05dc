// Package config resolves Sirocco's settings the way operators expect:
// command-line flags override SIROCCO_* environment variables, which override
// $SIROCCO_HOME/sirocco.yaml, which overrides the defaults.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the effective configuration of one Sirocco process.
type Config struct {
	Home         string        `yaml:"home" env:"SIROCCO_HOME" help:"folder for the database, logs and sirocco.yaml"`
	DagsFolder   string        `yaml:"dags_folder" env:"SIROCCO_DAGS_FOLDER" help:"folder of DAG YAML files"`
	DatabaseURL  string        `yaml:"database_url" env:"SIROCCO_DATABASE_URL" help:"sqlite:///path.db or postgres://..."`
	Parallelism  int           `yaml:"parallelism" env:"SIROCCO_PARALLELISM" help:"tries the local executor runs at once"`
	PollInterval time.Duration `yaml:"poll_interval" env:"SIROCCO_POLL_INTERVAL" help:"scheduler look interval when nothing happens"`
	ZombieAfter  time.Duration `yaml:"zombie_threshold" env:"SIROCCO_ZOMBIE_THRESHOLD" help:"a running try without heartbeat for this long is dead"`
	Heartbeat    time.Duration `yaml:"heartbeat_interval" env:"SIROCCO_HEARTBEAT_INTERVAL" help:"how often executors heartbeat"`
	DagRescan    time.Duration `yaml:"dag_dir_list_interval" env:"SIROCCO_DAG_DIR_LIST_INTERVAL" help:"how often the DAGs folder is re-read"`
	KillGrace    time.Duration `yaml:"kill_grace" env:"SIROCCO_KILL_GRACE" help:"SIGTERM to SIGKILL delay when a task is stopped"`
	LogLevel     string        `yaml:"log_level" env:"SIROCCO_LOG_LEVEL" help:"debug, info, warn or error"`
	// MaxMapLength caps the instances one mapped task expands into
	// (Airflow's [core] max_map_length): a longer list fails the task.
	MaxMapLength int `yaml:"max_map_length" env:"SIROCCO_MAX_MAP_LENGTH" help:"most instances one mapped task may expand into"`
	// APIToken, when set, is the bearer token every /api/v1 request but
	// health must carry. It is a secret: Entries shows it as ***.
	APIToken string `yaml:"api_token" env:"SIROCCO_API_TOKEN" help:"bearer token the REST API requires (needed to listen beyond loopback)" secret:"true"`
	// Kerberos is the `kerberos:` section: the ticket cache `sirocco
	// kerberos` keeps fresh from a keytab, and tasks read (KRB5CCNAME).
	Kerberos Kerberos `yaml:"kerberos"`
	// Executor picks where tries run (Airflow's [core] executor): local
	// (goroutines of this process), kubernetes (a pod per try) or
	// local_kubernetes (local, but the tasks of kubernetes_executor.queue
	// in pods).
	Executor string `yaml:"executor" env:"SIROCCO_EXECUTOR" help:"local, kubernetes or local_kubernetes"`
	// KubernetesExecutor is the `kubernetes_executor:` section.
	KubernetesExecutor KubernetesExecutor `yaml:"kubernetes_executor"`
}

// KubernetesExecutor configures the executor that runs each try as its
// own pod (Airflow's [kubernetes_executor] section). Its keys are
// kubernetes_executor.<name> in `config list` and
// SIROCCO_KUBERNETES_EXECUTOR_<NAME> in the environment.
type KubernetesExecutor struct {
	ConnID          string        `yaml:"conn_id" env:"SIROCCO_KUBERNETES_EXECUTOR_CONN_ID" help:"kubernetes connection of the cluster (default kubernetes_default)"`
	ConfigFile      string        `yaml:"config_file" env:"SIROCCO_KUBERNETES_EXECUTOR_CONFIG_FILE" help:"kubeconfig file, overriding the connection's"`
	ClusterContext  string        `yaml:"cluster_context" env:"SIROCCO_KUBERNETES_EXECUTOR_CLUSTER_CONTEXT" help:"kubeconfig context, overriding the connection's"`
	Namespace       string        `yaml:"namespace" env:"SIROCCO_KUBERNETES_EXECUTOR_NAMESPACE" help:"namespace of the worker pods (default: the connection's, else default)"`
	Image           string        `yaml:"image" env:"SIROCCO_KUBERNETES_EXECUTOR_IMAGE" help:"image of the worker pods, with the sirocco binary on its PATH"`
	PodTemplateFile string        `yaml:"pod_template_file" env:"SIROCCO_KUBERNETES_EXECUTOR_POD_TEMPLATE_FILE" help:"YAML pod the worker pods start from (Airflow's pod_template_file)"`
	Queue           string        `yaml:"queue" env:"SIROCCO_KUBERNETES_EXECUTOR_QUEUE" help:"under local_kubernetes, tasks of this queue run as pods (Airflow's kubernetes_queue)"`
	DagsFolder      string        `yaml:"dags_folder" env:"SIROCCO_KUBERNETES_EXECUTOR_DAGS_FOLDER" help:"DAGs folder inside the worker pods (default: dags_folder)"`
	DeletePods      bool          `yaml:"delete_worker_pods" env:"SIROCCO_KUBERNETES_EXECUTOR_DELETE_WORKER_PODS" help:"delete a worker pod once its try has ended"`
	DeleteOnFailure bool          `yaml:"delete_worker_pods_on_failure" env:"SIROCCO_KUBERNETES_EXECUTOR_DELETE_WORKER_PODS_ON_FAILURE" help:"with delete_worker_pods, delete failed pods too (kept for inspection otherwise)"`
	PendingTimeout  time.Duration `yaml:"worker_pods_pending_timeout" env:"SIROCCO_KUBERNETES_EXECUTOR_WORKER_PODS_PENDING_TIMEOUT" help:"a worker pod not started after this long is deleted and its try failed"`
}

// Executor names (config executor).
const (
	ExecutorLocal           = "local"
	ExecutorKubernetes      = "kubernetes"
	ExecutorLocalKubernetes = "local_kubernetes"
)

// UsesKubernetes reports whether some tries run as worker pods.
func (c Config) UsesKubernetes() bool {
	return c.Executor == ExecutorKubernetes || c.Executor == ExecutorLocalKubernetes
}

// CheckExecutor reports what makes the executor settings unusable, naming
// the setting: worker pods reach the store over the network, so a
// Kubernetes executor needs PostgreSQL, and an image (or a pod template
// that names one).
func (c Config) CheckExecutor() error {
	switch c.Executor {
	case ExecutorLocal:
		return nil
	case ExecutorKubernetes, ExecutorLocalKubernetes:
	default:
		return fmt.Errorf("executor: expected %s, %s or %s, got %q", ExecutorLocal, ExecutorKubernetes, ExecutorLocalKubernetes, c.Executor)
	}
	var errs []error
	if !IsPostgres(c.DatabaseURL) {
		errs = append(errs, fmt.Errorf("database_url: executor %s runs tries in pods that must reach the store over the network: "+
			"expected a postgres:// URL that the pods can reach, got %s (SQLite is a file on this host)", c.Executor, RedactURL(c.DatabaseURL)))
	}
	k := c.KubernetesExecutor
	if k.Image == "" && k.PodTemplateFile == "" {
		errs = append(errs, errors.New("kubernetes_executor.image: expected the image of the worker pods (with sirocco on its PATH), "+
			"or a kubernetes_executor.pod_template_file whose container names one"))
	}
	if c.Executor == ExecutorLocalKubernetes && strings.TrimSpace(k.Queue) == "" {
		errs = append(errs, errors.New("kubernetes_executor.queue: expected the queue whose tasks run as pods"))
	}
	return errors.Join(errs...)
}

// IsPostgres reports whether a database URL names PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Kerberos configures the ticket renewer (`sirocco kerberos`, Airflow's
// `airflow kerberos` and [kerberos] section). Its keys are
// kerberos.<name> in `config list` and SIROCCO_KERBEROS_<NAME> in the
// environment. Sirocco never reads the keytab itself: it is a path handed
// to kinit.
type Kerberos struct {
	Principal       string        `yaml:"principal" env:"SIROCCO_KERBEROS_PRINCIPAL" help:"principal the ticket is for (_HOST is replaced by this host's name)"`
	Keytab          string        `yaml:"keytab" env:"SIROCCO_KERBEROS_KEYTAB" help:"keytab file holding the principal's key (a path; passed to kinit)"`
	CCache          string        `yaml:"ccache" env:"SIROCCO_KERBEROS_CCACHE" help:"ticket cache kept fresh, and KRB5CCNAME of tasks (default $SIROCCO_HOME/krb5cc)"`
	ReinitFrequency time.Duration `yaml:"reinit_frequency" env:"SIROCCO_KERBEROS_REINIT_FREQUENCY" help:"how often sirocco kerberos gets a new ticket"`
	KinitPath       string        `yaml:"kinit_path" env:"SIROCCO_KERBEROS_KINIT_PATH" help:"MIT kinit program (klist is looked up beside it)"`
}

// Enabled reports whether a keytab login is configured: then every
// command exports the ticket cache to the tasks it runs.
func (k Kerberos) Enabled() bool { return k.Principal != "" && k.Keytab != "" }

// Defaults returns the built-in settings; Home is ~/sirocco.
func Defaults() Config {
	home := "sirocco"
	if h, err := os.UserHomeDir(); err == nil {
		home = filepath.Join(h, "sirocco")
	}
	return Config{
		Home:         home,
		Parallelism:  32,
		PollInterval: time.Second,
		ZombieAfter:  30 * time.Second,
		Heartbeat:    5 * time.Second,
		DagRescan:    5 * time.Second,
		KillGrace:    5 * time.Second,
		LogLevel:     "info",
		MaxMapLength: 1024,
		Kerberos:     Kerberos{ReinitFrequency: time.Hour, KinitPath: "kinit"},
		Executor:     ExecutorLocal,
		KubernetesExecutor: KubernetesExecutor{
			ConnID: "kubernetes_default", Queue: "kubernetes", DeletePods: true, PendingTimeout: 5 * time.Minute,
		},
	}
}

// Load resolves the configuration. flags holds values the user set on the
// command line, keyed by yaml name; it wins over everything.
//
// Paths never depend silently on the working directory: a relative home,
// or a relative dags_folder given by flag or environment, is made absolute
// against the directory the command was typed in (the user named it there),
// a relative dags_folder in sirocco.yaml is relative to the home, and the
// default DAGs folder is $SIROCCO_HOME/dags, as Airflow's is
// $AIRFLOW_HOME/dags. So every command with the same home, started from any
// directory, sees the same DAGs.
func Load(flags map[string]string) (Config, error) {
	c := Defaults()
	env := envValues()
	home, err := filepath.Abs(firstNonEmpty(flags["home"], env["home"], c.Home))
	if err != nil {
		return c, fmt.Errorf("home: %w", err)
	}
	c.Home = home
	if err := c.loadFile(filepath.Join(home, "sirocco.yaml")); err != nil {
		return c, err
	}
	if c.DagsFolder != "" && !filepath.IsAbs(c.DagsFolder) {
		c.DagsFolder = filepath.Join(home, c.DagsFolder)
	}
	c.Kerberos.Keytab = resolvePath(home, c.Kerberos.Keytab)
	c.Kerberos.CCache = resolvePath(home, c.Kerberos.CCache)
	c.KubernetesExecutor.PodTemplateFile = resolvePath(home, c.KubernetesExecutor.PodTemplateFile)
	for k, v := range env {
		if err := c.set(k, v); err != nil {
			return c, fmt.Errorf("environment: %s: %w", envVar(k), err)
		}
	}
	for k, v := range flags {
		if err := c.set(k, v); err != nil {
			return c, fmt.Errorf("flag: %w", err)
		}
	}
	c.Home = home
	if c.DagsFolder == "" {
		c.DagsFolder = filepath.Join(home, "dags")
	}
	if c.DagsFolder, err = filepath.Abs(c.DagsFolder); err != nil {
		return c, fmt.Errorf("dags_folder: %w", err)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(home, "sirocco.db")
	}
	if c.Kerberos.CCache == "" {
		c.Kerberos.CCache = filepath.Join(home, "krb5cc")
	}
	cwd, err := os.Getwd()
	if err != nil {
		return c, fmt.Errorf("working directory: %w", err)
	}
	c.Kerberos.Keytab = resolvePath(cwd, c.Kerberos.Keytab)
	c.Kerberos.CCache = resolvePath(cwd, c.Kerberos.CCache)
	c.KubernetesExecutor.PodTemplateFile = resolvePath(cwd, c.KubernetesExecutor.PodTemplateFile)
	return c, nil
}

// resolvePath makes a relative file path absolute against base. A ticket
// cache may carry a type: FILE:path is resolved the same way, any other
// type (KEYRING:, DIR:, KCM:) is left as written.
func resolvePath(base, p string) string {
	prefix, path := "", p
	if typ, rest, ok := strings.Cut(p, ":"); ok && typ != "" && !strings.ContainsRune(typ, '/') {
		if typ != "FILE" {
			return p
		}
		prefix, path = "FILE:", rest
	}
	if path == "" || filepath.IsAbs(path) {
		return p
	}
	return prefix + filepath.Join(base, path)
}

// loadFile applies sirocco.yaml; a missing file is no error.
func (c *Config) loadFile(file string) error {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for k, v := range raw {
		if err := c.setYAML(k, v); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return nil
}

// LogsDir is where per-try task logs live.
func (c Config) LogsDir() string { return filepath.Join(c.Home, "logs") }

// Entry is one setting for `config list`.
type Entry struct {
	Key, Env, Value, Help string
}

// Entries lists every setting with its effective value; secrets (the API
// token, a database password) are hidden, as `config list` prints them.
func (c Config) Entries() []Entry {
	list := settings(reflect.ValueOf(c))
	out := make([]Entry, 0, len(list))
	for _, st := range list {
		val := fmt.Sprint(st.value.Interface())
		if st.key == "database_url" {
			val = RedactURL(val)
		}
		if st.field.Tag.Get("secret") == "true" && val != "" {
			val = "***"
		}
		out = append(out, Entry{Key: st.key, Env: st.field.Tag.Get("env"), Value: val, Help: st.field.Tag.Get("help")})
	}
	return out
}

// setting is one leaf of Config: a top-level field, or a field of a
// section such as kerberos.principal.
type setting struct {
	key   string // yaml name, section-qualified (kerberos.principal)
	field reflect.StructField
	value reflect.Value
}

// settings lists the leaves of v (a Config) in declaration order; the
// values can be set when v is addressable.
func settings(v reflect.Value) []setting {
	var out []setting
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			key := prefix + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct {
				walk(key+".", v.Field(i))
				continue
			}
			out = append(out, setting{key: key, field: f, value: v.Field(i)})
		}
	}
	walk("", v)
	return out
}

// sectionKeys returns the keys of a section (kerberos), or nil when name
// is not one.
func sectionKeys(name string) []string {
	var keys []string
	for _, st := range settings(reflect.ValueOf(Config{})) {
		if rest, ok := strings.CutPrefix(st.key, name+"."); ok {
			keys = append(keys, rest)
		}
	}
	return keys
}

// RedactURL hides a password in a database URL.
func RedactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":***" + u[at:]
	}
	return u
}

func (c *Config) set(key, value string) error {
	for _, st := range settings(reflect.ValueOf(c).Elem()) {
		if st.key == key {
			return setValue(st, value)
		}
	}
	if keys := sectionKeys(key); keys != nil {
		return fmt.Errorf("%s: expected a section with %s, got %q", key, strings.Join(keys, ", "), value)
	}
	return fmt.Errorf("unknown setting %q", key)
}

// setYAML applies one key of sirocco.yaml: a section (kerberos:) is a
// mapping of its own keys, anything else a scalar.
func (c *Config) setYAML(key string, v any) error {
	keys := sectionKeys(key)
	if m, ok := v.(map[string]any); ok {
		if keys == nil {
			return fmt.Errorf("%s: expected a single value, got a mapping", key)
		}
		for k, sub := range m {
			if err := c.setYAML(key+"."+k, sub); err != nil {
				return err
			}
		}
		return nil
	}
	if keys != nil && v == nil {
		return nil // `kerberos:` with nothing under it
	}
	text := ""
	if v != nil { // `key:` with no value is empty, not "<nil>"
		text = fmt.Sprint(v)
	}
	return c.set(key, text)
}

// setValue parses value into the setting's type.
func setValue(st setting, value string) error {
	key, fv := st.key, st.value
	switch fv.Interface().(type) {
	case string:
		if st.field.Tag.Get("secret") == "true" {
			secret, err := secretValue(key, value)
			if err != nil {
				return err
			}
			value = secret
		}
		fv.SetString(value)
	case int:
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s: expected a positive integer, got %q", key, value)
		}
		fv.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: expected true or false, got %q", key, value)
		}
		fv.SetBool(b)
	case time.Duration:
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s: expected a duration like 500ms or 30s, got %q", key, value)
		}
		fv.SetInt(int64(d))
	}
	return nil
}

// secretValue checks a secret setting (the API token): surrounding
// whitespace (a newline from a file) is dropped, and a value that is blank
// is refused. A blank token is a mistake (SIROCCO_API_TOKEN=$UNSET), and
// accepting it would either demand a token nobody can send or silently
// leave the API open, depending on who reads it.
func secretValue(key, value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", fmt.Errorf("%s is set but blank (empty or only whitespace): give it a real value, or remove the setting", key)
	}
	return v, nil
}

// envValues reads the SIROCCO_* variables. An empty variable counts as
// unset, except for a secret: SIROCCO_API_TOKEN= is refused (secretValue)
// rather than read as "no token".
func envValues() map[string]string {
	out := map[string]string{}
	for _, st := range settings(reflect.ValueOf(Config{})) {
		f := st.field
		if v, ok := os.LookupEnv(f.Tag.Get("env")); ok && (v != "" || f.Tag.Get("secret") == "true") {
			out[st.key] = v
		}
	}
	return out
}

// envVar is the environment variable of the setting key, so that an error
// names the variable the user set (SIROCCO_API_TOKEN), not only the key.
func envVar(key string) string {
	for _, st := range settings(reflect.ValueOf(Config{})) {
		if st.key == key {
			return st.field.Tag.Get("env")
		}
	}
	return key
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
