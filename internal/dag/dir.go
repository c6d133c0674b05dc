package dag

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bag is the result of loading a DAGs folder: the good DAGs by id and the
// problems by file path. It exists so that one broken file never prevents
// the others from loading: the scheduler runs what it can and the UI and
// `dags validate` show the rest.
type Bag struct {
	DAGs   map[string]*DAG
	Errors map[string]error // by file path, as joined *FileError values

	// holders is the file that holds each dag_id, kept across rescans so
	// that a second file with the same id never takes a DAG over.
	holders map[string]string
	// reads are the reads still stuck from earlier scans, shared by every
	// rescan of this bag.
	reads *pendingReads
}

// IDs returns the DAG ids sorted, for stable listings.
func (b *Bag) IDs() []string { return slices.Sorted(maps.Keys(b.DAGs)) }

// LoadDir loads every *.yaml and *.yml file under dir, recursively, skipping
// hidden files and folders (editors' and VCS droppings), in path order.
// Symlinked files are read; symlinked subfolders are not entered. Only
// regular files are read: a named pipe, socket or device named *.yaml is an
// error of its own, and so is a file whose read outlasts ReadTimeout.
//
// When several files define the same dag_id, the first in path order that
// loads holds it and the others are errors naming it; Rescan keeps the
// holder across scans. The error is non-nil only when dir itself cannot be
// read; problems with files and subfolders go to Bag.Errors.
func LoadDir(dir string, opts LoadOptions) (*Bag, error) {
	return Rescan(dir, opts, nil)
}

// Rescan is LoadDir for a folder loaded before into prev (nil: a first
// load). A dag_id stays with the file that held it in prev for as long as
// that file exists and still defines it (or cannot be read far enough to
// tell): another file that defines the same id, new or edited, is an
// import error and never replaces the DAG that is running. Only when the
// holder is deleted or changes its dag_id does the next scan give the id to
// another file, the first in path order that loads.
func Rescan(dir string, opts LoadOptions, prev *Bag) (*Bag, error) {
	paths, walkErrs, err := dagFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("load DAGs: %w", err)
	}
	bag := &Bag{DAGs: map[string]*DAG{}, Errors: walkErrs, holders: map[string]string{}}
	if prev != nil && prev.reads != nil {
		bag.reads = prev.reads
	} else {
		bag.reads = newPendingReads()
	}
	var held map[string]string
	if prev != nil {
		held = prev.holders
	}
	bag.assign(paths, bag.reads.loadAll(paths, opts), held)
	return bag, nil
}

// dagFiles lists the DAG files under dir in path order, with the problems
// met on the way by path.
func dagFiles(dir string) ([]string, map[string]error, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}
	// Walk the real folder (WalkDir does not enter a symlinked root, and
	// Kubernetes ConfigMap mounts and git-sync checkouts are symlinks), but
	// report paths under dir.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, nil, err
	}
	errs := map[string]error{}
	var paths []string
	err = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if path != real {
			if rel, relErr := filepath.Rel(real, path); relErr == nil {
				path = filepath.Join(dir, rel)
			}
		}
		if err != nil {
			if path == real {
				return err
			}
			errs[path] = readError(path, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if path != real && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && isDAGFile(d.Name()) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(paths)
	return paths, errs, nil
}

func isDAGFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// assign files the results: each dag_id goes to its holder in held if that
// file still claims it, else to the first file in path order that loaded.
// results[i] is the outcome of paths[i].
func (b *Bag) assign(paths []string, results []parsed, held map[string]string) {
	index := make(map[string]int, len(paths))
	claims := map[string][]int{} // dag_id -> files defining it, in path order
	for i, r := range results {
		index[paths[i]] = i
		if r.err != nil {
			b.Errors[paths[i]] = r.err
		}
		if r.id != "" {
			claims[r.id] = append(claims[r.id], i)
		}
	}
	for id, path := range held {
		i, ok := index[path]
		if !ok {
			continue // deleted
		}
		// A file that cannot be read far enough to find its dag_id keeps
		// its claim: a half-saved edit must not hand the DAG to another file.
		if r := results[i]; r.id == id || r.err != nil && r.id == "" {
			b.holders[id] = path
		}
	}
	for id, files := range claims {
		holder, ok := b.holders[id]
		if !ok {
			i := slices.IndexFunc(files, func(i int) bool { return results[i].dag != nil })
			if i < 0 {
				continue
			}
			holder = paths[files[i]]
			b.holders[id] = holder
		}
		for _, i := range files {
			switch r := results[i]; {
			case paths[i] == holder:
				if r.dag != nil {
					b.DAGs[id] = r.dag
				}
			case r.dag != nil:
				b.Errors[paths[i]] = errors.Join(&FileError{
					File: paths[i], Line: r.idNode.Line, Column: r.idNode.Column, Field: "dag_id",
					Msg: fmt.Sprintf("dag_id %q is already defined in %s; this file is ignored while that one defines it", id, holder),
				})
			}
		}
	}
}

// pendingReads remembers the files whose read outlived its timeout and has
// not returned yet, so that a file on a hung file system costs one stuck
// goroutine in all, not one more at every rescan.
type pendingReads struct {
	mu    sync.Mutex
	paths map[string]bool
}

func newPendingReads() *pendingReads { return &pendingReads{paths: map[string]bool{}} }

// loadAll parses files on all cores: a folder of a thousand DAGs is loaded
// at every start and on every change, and parsing is CPU-bound.
func (p *pendingReads) loadAll(paths []string, opts LoadOptions) []parsed {
	results := make([]parsed, len(paths))
	workers := min(runtime.GOMAXPROCS(0), len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				data, err := p.read(paths[i], opts)
				if err != nil {
					results[i] = parsed{err: readError(paths[i], err)}
					continue
				}
				results[i] = parse(paths[i], data, opts)
			}
		})
	}
	wg.Wait()
	return results
}

// read reads path within opts.ReadTimeout. Reads of regular files cannot be
// interrupted, so one that takes longer is left to finish in the background
// and its file is skipped (by this scan and, while it lasts, the next ones).
func (p *pendingReads) read(path string, opts LoadOptions) ([]byte, error) {
	timeout := opts.ReadTimeout
	if timeout <= 0 {
		timeout = DefaultReadTimeout
	}
	readFile := readDAGFile
	if opts.readFile != nil {
		readFile = opts.readFile
	}
	p.mu.Lock()
	if p.paths[path] {
		p.mu.Unlock()
		return nil, fmt.Errorf("not loaded: a read started by an earlier scan has not returned after %s", timeout)
	}
	p.paths[path] = true
	p.mu.Unlock()

	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readFile(path)
		p.mu.Lock()
		delete(p.paths, path)
		p.mu.Unlock()
		done <- result{data, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.data, r.err
	case <-timer.C:
		return nil, fmt.Errorf("not loaded: reading the file took longer than %s", timeout)
	}
}
