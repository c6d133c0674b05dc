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

	"gopkg.in/yaml.v3"
)

// Bag is the result of loading a DAGs folder: the good DAGs by id and the
// problems by file path. It exists so that one broken file never prevents
// the others from loading: the scheduler runs what it can and the UI and
// `dags validate` show the rest.
type Bag struct {
	DAGs   map[string]*DAG
	Errors map[string]error // by file path, as joined *FileError values
}

// IDs returns the DAG ids sorted, for stable listings.
func (b *Bag) IDs() []string { return slices.Sorted(maps.Keys(b.DAGs)) }

// LoadDir loads every *.yaml and *.yml file under dir, recursively, skipping
// hidden files and folders (editors' and VCS droppings), in path order.
// Symlinked files are read; symlinked subfolders are not entered. A
// dag_id already defined by an earlier file is an error on the later one.
// The error is non-nil only when dir itself cannot be read; problems with
// files and subfolders go to Bag.Errors.
func LoadDir(dir string, opts LoadOptions) (*Bag, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load DAGs: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("load DAGs: %s is not a directory", dir)
	}
	// Walk the real folder (WalkDir does not enter a symlinked root, and
	// Kubernetes ConfigMap mounts are symlinks), but report paths under dir.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("load DAGs: %w", err)
	}
	bag := &Bag{DAGs: map[string]*DAG{}, Errors: map[string]error{}}
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
			bag.Errors[path] = errors.Join(&FileError{File: path, Msg: err.Error(), err: err})
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
		return nil, fmt.Errorf("load DAGs: %w", err)
	}
	slices.Sort(paths)

	results := loadAll(paths, opts)
	firstFile := make(map[string]string, len(paths))
	for i, r := range results {
		path := paths[i]
		if r.err != nil {
			bag.Errors[path] = r.err
			continue
		}
		if prev, dup := firstFile[r.dag.ID]; dup {
			bag.Errors[path] = errors.Join(&FileError{
				File: path, Line: r.idNode.Line, Column: r.idNode.Column, Field: "dag_id",
				Msg: fmt.Sprintf("dag_id %q is already defined in %s", r.dag.ID, prev),
			})
			continue
		}
		firstFile[r.dag.ID] = path
		bag.DAGs[r.dag.ID] = r.dag
	}
	return bag, nil
}

func isDAGFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

type loadResult struct {
	dag    *DAG
	idNode *yaml.Node
	err    error
}

// loadAll parses files on all cores: a folder of a thousand DAGs is loaded
// at every start and on every change, and parsing is CPU-bound.
func loadAll(paths []string, opts LoadOptions) []loadResult {
	results := make([]loadResult, len(paths))
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
				d, idNode, err := loadFile(paths[i], opts)
				results[i] = loadResult{d, idNode, err}
			}
		})
	}
	wg.Wait()
	return results
}
