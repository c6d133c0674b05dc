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
	// APIToken, when set, is the bearer token every /api/v1 request but
	// health must carry. It is a secret: Entries shows it as ***.
	APIToken string `yaml:"api_token" env:"SIROCCO_API_TOKEN" help:"bearer token the REST API requires (needed to listen beyond loopback)" secret:"true"`
}

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
	for k, v := range env {
		if err := c.set(k, v); err != nil {
			return c, fmt.Errorf("environment: %w", err)
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
	return c, nil
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
		text := ""
		if v != nil { // `key:` with no value is empty, not "<nil>"
			text = fmt.Sprint(v)
		}
		if err := c.set(k, text); err != nil {
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
	v := reflect.ValueOf(c)
	t := v.Type()
	out := make([]Entry, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		val := fmt.Sprint(v.Field(i).Interface())
		if f.Tag.Get("yaml") == "database_url" {
			val = RedactURL(val)
		}
		if f.Tag.Get("secret") == "true" && val != "" {
			val = "***"
		}
		out = append(out, Entry{Key: f.Tag.Get("yaml"), Env: f.Tag.Get("env"), Value: val, Help: f.Tag.Get("help")})
	}
	return out
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
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("yaml") != key {
			continue
		}
		fv := v.Field(i)
		switch fv.Interface().(type) {
		case string:
			if f.Tag.Get("secret") == "true" {
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
		case time.Duration:
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s: expected a duration like 500ms or 30s, got %q", key, value)
			}
			fv.SetInt(int64(d))
		}
		return nil
	}
	return fmt.Errorf("unknown setting %q", key)
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
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		if v, ok := os.LookupEnv(f.Tag.Get("env")); ok && (v != "" || f.Tag.Get("secret") == "true") {
			out[f.Tag.Get("yaml")] = v
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
