package sensor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/sshclient"
)

// FileSpec declares file_sensor (Airflow's FileSensor).
var FileSpec = spec("file_sensor",
	"Wait until a file, or a file matching a glob, exists (a matching folder counts once it holds a file); "+
		"locally, or on a host reached through ssh_conn_id.",
	dag.FieldSpec{Name: "filepath", Kind: dag.FieldString, Required: true, Templated: true,
		Description: "path or glob (*, ?, [...]); a relative one is under the DAG file's folder (locally) or the login's home (over ssh)"},
	dag.FieldSpec{Name: "ssh_conn_id", Kind: dag.FieldString, Description: "look on this ssh connection's host instead of locally"})

// filePoke looks for the file once.
func filePoke(sp dag.OperatorSpec) PokeFunc {
	return func(ctx context.Context, t *operator.Task) (bool, error) {
		f := operator.FieldsOf(sp, t.Args)
		pattern := f.String("filepath")
		if pattern == "" {
			return false, errors.New("field filepath: empty")
		}
		if id := f.String("ssh_conn_id"); id != "" {
			fmt.Fprintf(t.Log, "sensor: poking for %s on %s\n", pattern, id)
			return remoteFileExists(ctx, t, id, pattern)
		}
		if !filepath.IsAbs(pattern) && t.DagDir != "" {
			pattern = filepath.Join(t.DagDir, pattern)
		}
		fmt.Fprintf(t.Log, "sensor: poking for %s\n", pattern)
		return LocalFileExists(pattern)
	}
}

// LocalFileExists reports whether a file matches pattern, or a matching
// folder holds a file at any depth (Airflow's FileSensor). As the shell's
// and Python's glob, a wildcard does not match a name starting with a dot
// unless the pattern's part starts with one.
func LocalFileExists(pattern string) (bool, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return false, fmt.Errorf("field filepath: %q: %w", pattern, err)
	}
	for _, m := range matches {
		if hiddenByWildcard(pattern, m) {
			continue
		}
		info, err := os.Stat(m)
		if err != nil {
			continue // gone since the glob, or a dangling link
		}
		if !info.IsDir() {
			return true, nil
		}
		if holdsFile(m) {
			return true, nil
		}
	}
	return false, nil
}

// hiddenByWildcard reports whether match has a name starting with a dot
// where pattern's part at the same place does not: a match the shell's
// glob would not give.
func hiddenByWildcard(pattern, match string) bool {
	sep := string(filepath.Separator)
	ps := strings.Split(filepath.Clean(pattern), sep)
	ms := strings.Split(filepath.Clean(match), sep)
	if len(ps) != len(ms) { // ".." in a pattern: judge the last part only
		ps, ms = ps[len(ps)-1:], ms[len(ms)-1:]
	}
	for i, m := range ms {
		if strings.HasPrefix(m, ".") && !strings.HasPrefix(ps[i], ".") {
			return true
		}
	}
	return false
}

// errFound stops a walk at the first file.
var errFound = errors.New("found")

// holdsFile reports whether a folder holds a file at any depth.
func holdsFile(dir string) bool {
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			return errFound
		}
		return nil // an unreadable folder is skipped
	})
	return errors.Is(err, errFound)
}

// remoteScript is the same check on the remote host: $1 is the pattern,
// globbed (not split) by the host's sh. Exit 0: found, 1: not yet.
const remoteScript = `IFS=''; for p in $1; do ` +
	`if [ -f "$p" ]; then exit 0; fi; ` +
	`if [ -d "$p" ] && [ -n "$(find "$p" -type f 2>/dev/null | head -n 1)" ]; then exit 0; fi; ` +
	`done; exit 1`

// remoteFileExists runs remoteScript over the ssh connection id.
func remoteFileExists(ctx context.Context, t *operator.Task, id, pattern string) (bool, error) {
	if t.SSH == nil || t.Connection == nil {
		return false, errors.New("this process has no ssh connection pool: file_sensor with ssh_conn_id cannot run here")
	}
	s, err := sshclient.Resolve(ctx, t.Connection, id, sshclient.OSEnv())
	if err != nil {
		return false, fmt.Errorf("ssh_conn_id %s: %w", id, err)
	}
	if t.Mask != nil {
		for _, secret := range s.Secrets() {
			t.Mask(secret)
		}
	}
	cmd, err := sshclient.Quote([]string{"sh", "-c", remoteScript, "sh", pattern})
	if err != nil {
		return false, fmt.Errorf("field filepath: %w", err)
	}
	code, err := t.SSH.Run(ctx, s, cmd, io.Discard, t.Log)
	switch {
	case err != nil:
		return false, fmt.Errorf("ssh_conn_id %s: %w", id, err)
	case code == 0:
		return true, nil
	case code == 1:
		return false, nil
	}
	return false, fmt.Errorf("ssh_conn_id %s: the check exited %d", id, code)
}
