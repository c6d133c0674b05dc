package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/config"
	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/executor"
	"github.com/sirocco-dev/sirocco/internal/executor/kubeexec"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// router is the scheduler's executor when some tries run as worker pods
// (executor kubernetes or local_kubernetes, Airflow's
// LocalKubernetesExecutor): it hands each try to the local executor or
// the Kubernetes one, and asks both about the tries they hold. Claims
// record the local executor's worker id either way: its heartbeat keeps
// a claimed try alive until its pod takes it over.
type router struct {
	local *executor.Local
	kube  *kubeexec.Executor
	// toKube says whether a task's tries run as pods.
	toKube func(store.TaskKey) bool
	// onlyKube: executor kubernetes, every try is a pod.
	onlyKube bool
}

// ID is the worker id the claims record.
func (r *router) ID() string { return r.local.ID() }

// FreeSlots is the Kubernetes executor's free slots, plus the local
// executor's under local_kubernetes; LaneSlots splits them.
func (r *router) FreeSlots() int {
	if r.onlyKube {
		return r.kube.FreeSlots()
	}
	return r.local.FreeSlots() + r.kube.FreeSlots()
}

// Lanes of the router's tries (scheduler.LanedExecutor).
const (
	laneLocal = "local"
	laneKube  = "kubernetes"
)

// Lane names the executor k's tries go to.
func (r *router) Lane(k store.TaskKey) string {
	if r.toKube(k) {
		return laneKube
	}
	return laneLocal
}

// LaneSlots is the free slots of each executor: a task is handed out only
// when its own has one (the sum alone let a full local executor be handed
// the Kubernetes executor's slots, and run past its parallelism).
func (r *router) LaneSlots() map[string]int {
	return map[string]int{laneLocal: r.local.FreeSlots(), laneKube: r.kube.FreeSlots()}
}

// Claim routes a ready task's claim by its queue.
func (r *router) Claim(u store.TaskUpdate, now time.Time) store.TaskUpdate {
	if r.toKube(u.Key) {
		return r.kube.Claim(u, now)
	}
	return r.local.Claim(u, now)
}

// SubmitTask routes a claimed try by its handle: a worker pod's goes to
// the Kubernetes executor.
func (r *router) SubmitTask(ti store.TaskInstance, run store.DagRun) {
	if kubeexec.IsHandle(ti.Handle) {
		r.kube.SubmitTask(ti, run)
		return
	}
	r.local.SubmitTask(ti, run)
}

// Kill stops the try wherever it runs.
func (r *router) Kill(k store.TaskKey) {
	r.local.Kill(k)
	r.kube.Kill(k)
}

// Resume routes an adopted try by its stored handle.
func (r *router) Resume(k store.TaskKey) { r.kube.Resume(k, r.local.Resume) }

// Holds reports whether either executor holds a try of k.
func (r *router) Holds(k store.TaskKey) bool { return r.local.Holds(k) || r.kube.Holds(k) }

// newRouter builds the Kubernetes executor and the router for cfg.
func newRouter(cfg config.Config, runner *executor.Runner, local *executor.Local, bag *Bag, log *slog.Logger) (*router, error) {
	if err := cfg.CheckExecutor(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	kx, err := kubeexec.New(kubeexec.Options{
		Settings: cfg.KubernetesExecutor, Runner: runner, PodEnv: podEnv(cfg), PodSecrets: podSecrets(cfg, log), Parallelism: cfg.Parallelism,
		Check: cfg.Heartbeat, KillGrace: cfg.KillGrace,
	})
	if err != nil {
		return nil, err
	}
	queue := cfg.KubernetesExecutor.Queue
	r := &router{local: local, kube: kx, onlyKube: cfg.Executor == config.ExecutorKubernetes}
	r.toKube = func(k store.TaskKey) bool {
		if r.onlyKube {
			return true
		}
		d := bag.DAGs()[k.DagID]
		if d == nil {
			return false
		}
		t := d.Task(k.TaskID)
		return t != nil && t.Queue == queue
	}
	return r, nil
}

// podEnv is what every worker pod needs to reach the store and the DAGs
// and to heartbeat as the scheduler expects, unless its template sets it.
func podEnv(cfg config.Config) map[string]string {
	dags := cfg.KubernetesExecutor.DagsFolder
	if dags == "" {
		dags = cfg.DagsFolder
	}
	env := map[string]string{
		"SIROCCO_DAGS_FOLDER":        dags,
		"SIROCCO_HEARTBEAT_INTERVAL": cfg.Heartbeat.String(),
		"SIROCCO_KILL_GRACE":         cfg.KillGrace.String(),
		"SIROCCO_LOG_LEVEL":          cfg.LogLevel,
	}
	if !hasPassword(cfg.DatabaseURL) {
		env["SIROCCO_DATABASE_URL"] = cfg.DatabaseURL
	}
	return env
}

// podSecrets is what every worker pod needs that must not be written in
// its spec, unless its template sets it: the database URL when it holds a
// password, and the scheduler's secret key of stored connections (a pod
// without it could read no connection's secret). The Kubernetes executor
// puts them in a Secret.
func podSecrets(cfg config.Config, log *slog.Logger) map[string]string {
	s := map[string]string{}
	if hasPassword(cfg.DatabaseURL) {
		s["SIROCCO_DATABASE_URL"] = cfg.DatabaseURL
	}
	key, err := schedulerKey(cfg.Home)
	if err != nil {
		log.Warn("worker pods do not get the scheduler's secret key: set SIROCCO_SECRET_KEY in kubernetes_executor.pod_template_file", "err", err)
	} else if key != "" {
		s[connection.EnvSecretKey] = key
	}
	if old := strings.TrimSpace(os.Getenv(connection.EnvSecretKeyOld)); old != "" {
		s[connection.EnvSecretKeyOld] = old
	}
	return s
}

// schedulerKey is the scheduler's current secret key as text: from
// SIROCCO_SECRET_KEY, else its key file; "" when it has none.
func schedulerKey(home string) (string, error) {
	key := strings.TrimSpace(os.Getenv(connection.EnvSecretKey))
	if key == "" {
		b, err := os.ReadFile(filepath.Join(home, connection.KeyFileName))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read the secret key: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if _, err := connection.ParseKey(key); err != nil {
		return "", fmt.Errorf("the secret key: %w", err)
	}
	return key, nil
}

// hasPassword reports whether a database URL holds a password.
func hasPassword(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return false
	}
	_, ok := p.User.Password()
	return ok
}
