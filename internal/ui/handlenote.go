package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// handleNote opens the log line in which the runner notes a local
// process's handle as soon as it starts (executor.HandleNote, written
// through operator.Task.NoteHandle). The store gets the handle only once
// the process has run for process.HandleAfter (100 ms), so a short try's
// handle is in its log alone. It is repeated here rather than imported:
// package executor pulls in every operator; a test checks they agree.
const handleNote = "sirocco: process handle "

// Where a task instance's shown handle comes from (tiJSON.HandleSource).
const (
	handleFromStore = "store" // the row's handle
	handleFromLog   = "log"   // noted in the latest try's log; the row has none
)

// handleOf is ti's handle made readable and where it was read: the row's,
// else the one noted in the latest try's log, else none ("").
func handleOf(logsDir string, ti store.TaskInstance) (handleView, string) {
	if len(ti.Handle) > 0 {
		return describeHandle(ti.Handle), handleFromStore
	}
	if ti.TryNumber < 1 {
		return describeHandle(nil), ""
	}
	// The note is a convenience: a log that cannot be read shows no handle
	// rather than failing the whole task page.
	raw, err := notedHandle(tasklog.MapPath(logsDir, ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber))
	if err != nil || raw == nil {
		return describeHandle(nil), ""
	}
	return describeHandle(raw), handleFromLog
}

// notedHandle returns the first handle noted in the head of the log at
// path (the note precedes the process's own output, so only the first
// one is trusted, as recovery does), or nil when there is none or no log.
func notedHandle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, logWindow)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return findNote(head[:n]), nil
}

// findNote is the JSON object of the first complete handle note in head.
func findNote(head []byte) []byte {
	for line := range bytes.Lines(head) {
		if _, ok := lineTime(line); !ok {
			continue
		}
		_, h, ok := bytes.Cut(line, []byte(handleNote))
		if !ok {
			continue
		}
		h = bytes.TrimSpace(h)
		if !json.Valid(h) {
			return nil // cut short by the window, or not a handle
		}
		return h
	}
	return nil
}
