package airflowimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// Options are the importer's dependencies and settings.
type Options struct {
	// Python is the interpreter that runs the DAG files (default python3).
	Python string
	// Out is the folder the YAML files and callables modules go to.
	Out string
	// Load are the loader options every written file is validated with.
	Load dag.LoadOptions
	// Timeout bounds the time one file may take to define its DAGs
	// (default 30s).
	Timeout time.Duration
	// Report receives the per-file report as it goes (nil: none).
	Report io.Writer
}

// FileReport is what happened to one Airflow file.
type FileReport struct {
	File  string
	DAGs  []DAGReport
	Error *FileError // the file raised, or defined no DAG
}

// DAGReport is one converted DAG.
type DAGReport struct {
	DagID    string
	Path     string // the YAML written
	Problems []Problem
	Invalid  error    // the loader's errors for the written file
	Replaced []string // files of an earlier conversion written over
}

// Result is the whole import.
type Result struct{ Files []FileReport }

// Failed counts the files that crashed or defined no DAG (the command's
// exit status is non-zero when there is one).
func (r Result) Failed() int {
	n := 0
	for _, f := range r.Files {
		if f.Error != nil {
			n++
		}
	}
	return n
}

var dagIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]{1,250}$`) })

// Import converts the Airflow DAG files among paths (files or folders)
// into opts.Out.
func Import(ctx context.Context, paths []string, opts Options) (Result, error) {
	if opts.Python == "" {
		opts.Python = "python3"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Report == nil {
		opts.Report = io.Discard
	}
	if opts.Out == "" {
		return Result{}, errors.New("no output folder (--out)")
	}
	files, skipped, err := collect(paths)
	if err != nil {
		return Result{}, err
	}
	for _, s := range skipped {
		fmt.Fprintln(opts.Report, relName(s))
	}
	if len(files) == 0 {
		return Result{}, fmt.Errorf("no Airflow DAG files (.py mentioning airflow and dag) in %v", paths)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return Result{}, fmt.Errorf("output folder: %w", err)
	}
	var res Result
	seen := newWritten()
	err = runShim(ctx, opts.Python, files, opts.Timeout, func(fr FileResult) error {
		rep := convertFile(fr, opts, seen)
		printReport(opts.Report, rep)
		res.Files = append(res.Files, rep)
		return nil
	})
	return res, err
}

// relName shows a path under the working folder relative to it.
func relName(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return strings.ReplaceAll(p, wd+string(filepath.Separator), "")
}

// relativise shows the file names under the working folder relative to
// it, in the report and the written files, so they read the same on
// every machine.
func relativise(fr *FileResult) {
	wd, err := os.Getwd()
	if err != nil {
		return
	}
	prefix := wd + string(filepath.Separator)
	rel := func(s string) string { return strings.ReplaceAll(s, prefix, "") }
	fr.File = rel(fr.File)
	if fr.Error != nil {
		fr.Error.Loc, fr.Error.Traceback = rel(fr.Error.Loc), rel(fr.Error.Traceback)
	}
	for i := range fr.DAGs {
		d := &fr.DAGs[i]
		d.Loc = rel(d.Loc)
		for j := range d.Tasks {
			d.Tasks[j].Loc = rel(d.Tasks[j].Loc)
		}
		for j := range d.Groups {
			d.Groups[j].Loc = rel(d.Groups[j].Loc)
		}
	}
}

func convertFile(fr FileResult, opts Options, seen *written) FileReport {
	relativise(&fr)
	rep := FileReport{File: fr.File, Error: fr.Error}
	if fr.Error == nil && len(fr.DAGs) == 0 {
		rep.Error = &FileError{Message: "the file defines no DAG", Loc: fr.File + ":1"}
	}
	for _, d := range fr.DAGs {
		dr, err := writeDAG(d, fr.File, opts, seen)
		if err != nil {
			rep.Error = &FileError{Message: err.Error(), Loc: d.Loc}
			continue
		}
		rep.DAGs = append(rep.DAGs, dr)
	}
	return rep
}

func writeDAG(d DAGIR, source string, opts Options, seen *written) (DAGReport, error) {
	if !dagIDPattern().MatchString(d.DagID) {
		return DAGReport{}, fmt.Errorf("dag_id %q: expected letters, digits, '_', '.', '-' (at most 250)", d.DagID)
	}
	if prev, dup := seen.dags[d.DagID]; dup {
		return DAGReport{}, fmt.Errorf("dag_id %s is already defined by %s", d.DagID, prev)
	}
	seen.dags[d.DagID] = d.Loc
	conv, err := convertAs(d, source, opts.Load.Operators, seen.module(d.DagID))
	if err != nil {
		return DAGReport{}, fmt.Errorf("convert %s: %w", d.DagID, err)
	}
	path := filepath.Join(opts.Out, d.DagID+".yaml")
	outputs := map[string][]byte{path: conv.YAML}
	if conv.Callables != nil {
		outputs[filepath.Join(opts.Out, conv.CallablesModule+".py")] = conv.Callables
	}
	var replaced []string
	for _, p := range sortedKeys(outputs) {
		r, err := checkReplace(p)
		if err != nil {
			return DAGReport{}, err
		}
		if r {
			replaced = append(replaced, p)
		}
	}
	for _, p := range sortedKeys(outputs) {
		if err := os.WriteFile(p, outputs[p], 0o644); err != nil {
			return DAGReport{}, fmt.Errorf("write %s: %w", p, err)
		}
	}
	_, invalid := dag.LoadFile(path, opts.Load)
	return DAGReport{DagID: d.DagID, Path: path, Problems: conv.Problems, Invalid: invalid, Replaced: replaced}, nil
}

func printReport(w io.Writer, r FileReport) {
	for _, d := range r.DAGs {
		status := "converted"
		if len(d.Problems) > 0 {
			status = fmt.Sprintf("converted; %d not converted or changed", len(d.Problems))
		}
		fmt.Fprintf(w, "%s: DAG %s -> %s (%s)\n", r.File, d.DagID, d.Path, status)
		for _, p := range d.Replaced {
			fmt.Fprintf(w, "  replaced %s, written by an earlier import\n", p)
		}
		for _, p := range d.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		if d.Invalid != nil {
			fmt.Fprintf(w, "  INVALID: the written file does not load:\n%s\n", indent(d.Invalid.Error()))
		}
	}
	if r.Error != nil {
		fmt.Fprintf(w, "%s: FAILED at %s: %s\n", r.File, r.Error.Loc, redactText(r.Error.Message))
		if r.Error.Traceback != "" {
			fmt.Fprint(w, indent(redactText(r.Error.Traceback)))
		}
	}
}

func indent(s string) string {
	out := ""
	for _, l := range splitLines(s) {
		out += "    " + l + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
