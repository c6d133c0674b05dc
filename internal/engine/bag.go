package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/executor/kubeexec"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/template"
)

// Bag holds the DAGs currently loaded from the DAGs folder. Readers get an
// immutable map; Reload swaps in a new one, so a broken file only removes
// its own DAG and the scheduler never sees a half-loaded folder. Each
// reload starts from the previous one, so a file that repeats another's
// dag_id never takes that DAG over (see dag.Rescan).
type Bag struct {
	dir  string
	opts dag.LoadOptions

	reloadMu sync.Mutex // one rescan at a time, each from the last
	loaded   atomic.Pointer[dag.Bag]

	// What the last Sync wrote, so an unchanged folder costs no writes.
	syncMu     sync.Mutex
	syncedDAGs map[string]string // dag id -> file
	syncedErrs string
	errsSynced bool
}

// NewBag returns an empty bag over dir; call Reload to fill it.
func NewBag(dir string, specs map[string]dag.OperatorSpec) *Bag {
	b := &Bag{dir: dir, opts: dag.LoadOptions{Operators: specs, CheckTemplate: template.Check, XComTaskIDs: template.XComTaskIDs,
		CheckExecutorConfig: kubeexec.CheckExecutorConfig}}
	b.loaded.Store(&dag.Bag{DAGs: map[string]*dag.DAG{}, Errors: map[string]error{}})
	return b
}

// LoadOptions are the loader options the bag uses (for `dags validate`).
func (b *Bag) LoadOptions() dag.LoadOptions { return b.opts }

// DAGs returns the loaded DAGs by id.
func (b *Bag) DAGs() map[string]*dag.DAG { return b.loaded.Load().DAGs }

// Errors returns the import errors by file.
func (b *Bag) Errors() map[string]error { return b.loaded.Load().Errors }

// Reload re-reads the folder.
func (b *Bag) Reload() error {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	loaded, err := dag.Rescan(b.dir, b.opts, b.loaded.Load())
	if err != nil {
		return fmt.Errorf("load DAGs folder %s: %w", b.dir, err)
	}
	b.loaded.Store(loaded)
	return nil
}

// Sync records the loaded DAGs and the import errors in the store, so that
// other processes (CLI, API) see them.
// Only DAGs that are new or moved, and a changed set of errors, are
// written, so a large unchanged folder costs the store nothing.
func (b *Bag) Sync(ctx context.Context, st store.Store, now time.Time) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	if b.syncedDAGs == nil {
		b.syncedDAGs = map[string]string{}
	}
	dags := b.DAGs()
	ids := make([]string, 0, len(dags))
	for id := range dags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d := dags[id]
		if b.syncedDAGs[id] == d.FileLoc {
			continue
		}
		if err := st.UpsertDAG(ctx, store.DAGRecord{DagID: id, FileLoc: d.FileLoc, LastParsed: now}); err != nil {
			return fmt.Errorf("record DAG %s: %w", id, err)
		}
		b.syncedDAGs[id] = d.FileLoc
	}
	var ies []store.ImportError
	var sig strings.Builder
	for file, err := range b.Errors() {
		ies = append(ies, store.ImportError{FileLoc: file, Message: err.Error(), Timestamp: now})
	}
	sort.Slice(ies, func(i, j int) bool { return ies[i].FileLoc < ies[j].FileLoc })
	for _, ie := range ies {
		sig.WriteString(ie.FileLoc + "\x00" + ie.Message + "\x00")
	}
	if b.errsSynced && sig.String() == b.syncedErrs {
		return nil
	}
	if err := st.ReplaceImportErrors(ctx, ies); err != nil {
		return fmt.Errorf("record import errors: %w", err)
	}
	b.syncedErrs, b.errsSynced = sig.String(), true
	return nil
}

// Watch reloads and syncs every interval until ctx ends. With a nil store
// it only reloads (the API server, which leaves recording DAGs to the
// scheduler).
func (b *Bag) Watch(ctx context.Context, st store.Store, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.reloadAndReport(log); err != nil {
			log.Error("reload DAGs", "err", err)
			continue
		}
		if st == nil {
			continue
		}
		if err := b.Sync(ctx, st, time.Now().UTC()); err != nil && ctx.Err() == nil {
			log.Error("sync DAGs", "err", err)
		}
	}
}

// reloadAndReport reloads the folder and says in the service log what
// changed in the import errors: a file that breaks while Sirocco runs is
// reported at once (and once), not only at the next start.
func (b *Bag) reloadAndReport(log *slog.Logger) error {
	before := b.Errors()
	if err := b.Reload(); err != nil {
		return err
	}
	after := b.Errors()
	for file, err := range after {
		if prev, ok := before[file]; !ok || prev.Error() != err.Error() {
			log.Warn("DAG file not loaded", "file", file, "err", err)
		}
	}
	for file := range before {
		if _, ok := after[file]; !ok {
			log.Info("DAG file has no import errors any more", "file", file)
		}
	}
	return nil
}
