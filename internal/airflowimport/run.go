package airflowimport

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed shim/*.py
var shimFS embed.FS

// writeShim writes the embedded shim to a new temporary folder; the caller
// removes it.
func writeShim() (string, error) {
	dir, err := os.MkdirTemp("", "sirocco-airflow-shim-")
	if err != nil {
		return "", fmt.Errorf("shim folder: %w", err)
	}
	err = fs.WalkDir(shimFS, "shim", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := shimFS.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(path)), data, 0o600)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("write shim: %w", err)
	}
	return dir, nil
}

// maxStderr bounds what is kept of python's stderr (the DAG files' prints).
const maxStderr = 64 << 10

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxStderr {
		t.b = t.b[len(t.b)-maxStderr:]
	}
	return len(p), nil
}

// stuckGrace is how long past its timeout a file may go on before the
// python process is killed: a file that catches the timeout's exception
// (a bare `except:` in a loop) would otherwise hold the import forever.
const stuckGrace = 5 * time.Second

// errStuck says the python process was killed because a file outlived
// its timeout.
var errStuck = errors.New("the file went on past its timeout (it catches the timeout's exception?): its python process was killed")

// runShim runs the files in one python process and calls each with the
// result of each file as it comes. When a file outlives its timeout, it is
// reported failed and a new process goes on with the files after it.
func runShim(ctx context.Context, python string, files []string, timeout time.Duration, each func(FileResult) error) error {
	dir, err := writeShim()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for len(files) > 0 {
		done, err := runShimOnce(ctx, python, dir, files, timeout, each)
		if !errors.Is(err, errStuck) {
			return err
		}
		stuck := files[done]
		if err := each(FileResult{File: stuck, Error: &FileError{Message: errStuck.Error(), Loc: stuck + ":0"}}); err != nil {
			return err
		}
		files = files[done+1:]
	}
	return nil
}

// runShimOnce runs files in one python process; done is how many gave
// their result.
func runShimOnce(ctx context.Context, python, dir string, files []string, timeout time.Duration, each func(FileResult) error) (done int, err error) {
	req, err := json.Marshal(map[string]any{"files": files, "timeout": int(timeout.Seconds())})
	if err != nil {
		return 0, fmt.Errorf("shim request: %w", err)
	}
	cmd := exec.CommandContext(ctx, python, "-B", filepath.Join(dir, "sirocco_af_run.py"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
	cmd.Stdin = bytes.NewReader(req)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("python stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s (use --python to name the interpreter): %w", python, err)
	}
	var stuck atomic.Bool
	watchdog := time.AfterFunc(timeout+stuckGrace, func() {
		stuck.Store(true)
		_ = cmd.Process.Kill()
	})
	defer watchdog.Stop()
	readErr := readResults(out, func(fr FileResult) error {
		watchdog.Reset(timeout + stuckGrace) // the next file's time starts now
		done++
		return each(fr)
	})
	if readErr != nil {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case stuck.Load() && done < len(files):
		return done, errStuck
	case readErr != nil:
		return done, readErr
	case waitErr != nil && ctx.Err() != nil:
		return done, fmt.Errorf("import stopped: %w", ctx.Err())
	case waitErr != nil:
		return done, fmt.Errorf("%s running the Airflow shim: %w\n%s", python, waitErr, strings.TrimSpace(string(stderr.b)))
	}
	return done, nil
}

func readResults(r io.Reader, each func(FileResult) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	for sc.Scan() {
		res, err := ParseResult(sc.Bytes())
		if err != nil {
			return err
		}
		if err := each(res); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("read shim output: %w", err)
	}
	return nil
}

// collect lists the Airflow DAG files among paths: a file as given, a
// folder's .py files (recursively) that mention both "airflow" and "dag",
// as Airflow's safe mode picks DAG files, except those an .airflowignore
// excludes (returned in skipped, each with the line that excludes it).
func collect(paths []string) (files, skipped []string, err error) {
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, abs)
			continue
		}
		found, skip, err := walkDAGs(abs)
		if err != nil {
			return nil, nil, fmt.Errorf("walk %s: %w", p, err)
		}
		files, skipped = append(files, found...), append(skipped, skip...)
	}
	return files, skipped, nil
}

// walkDAGs lists the DAG files under root; the rules of each folder's
// .airflowignore apply to it and its subfolders. Symbolic links to folders
// are followed, as Airflow follows them, each real folder once.
func walkDAGs(root string) (files, skipped []string, err error) {
	w := &dagWalk{visited: map[string]bool{}}
	err = w.walk(root, nil)
	return w.files, w.skipped, err
}

type dagWalk struct {
	files, skipped []string
	visited        map[string]bool // real paths of the folders walked
}

func (w *dagWalk) walk(root string, inherited []ignoreRule) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if w.visited[real] {
		w.skipped = append(w.skipped, root+": skipped, a link to a folder already searched")
		return nil
	}
	w.visited[real] = true
	rules := map[string][]ignoreRule{filepath.Dir(root): inherited}
	// The separator makes WalkDir enter root when it is a link.
	return filepath.WalkDir(root+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		p = filepath.Clean(p)
		parent := rules[filepath.Dir(p)]
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			isDir = err == nil && st.IsDir()
		}
		if p == root {
			parent = inherited
		}
		if isDir {
			return w.dir(root, p, d, parent, rules)
		}
		if !strings.HasSuffix(p, ".py") || !looksLikeDAG(p) {
			return nil
		}
		if by := ignoredBy(parent, p); by != "" {
			w.skipped = append(w.skipped, p+": skipped, ignored by "+by)
			return nil
		}
		w.files = append(w.files, p)
		return nil
	})
}

// dir decides whether to enter folder p, and reads its .airflowignore.
func (w *dagWalk) dir(root, p string, d fs.DirEntry, parent []ignoreRule, rules map[string][]ignoreRule) error {
	if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "__pycache__") {
		return filepath.SkipDir
	}
	if by := ignoredBy(parent, p); p != root && by != "" {
		w.skipped = append(w.skipped, p+": skipped, ignored by "+by)
		return filepath.SkipDir
	}
	if p != root && d.Type()&fs.ModeSymlink != 0 {
		return w.walk(p, parent)
	}
	own, err := readIgnore(p)
	if err != nil {
		return err
	}
	rules[p] = append(append([]ignoreRule(nil), parent...), own...)
	return nil
}

func looksLikeDAG(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return true // reported when it runs
	}
	low := bytes.ToLower(data)
	return bytes.Contains(low, []byte("airflow")) && bytes.Contains(low, []byte("dag"))
}
