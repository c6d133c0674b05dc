package api

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// getLog answers one try's log file, as written (secrets are masked when
// the file is written): text/plain, or {"content": ...} when the client
// asks for application/json.
func (s *server) getLog(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("task_try_number")
	try, err := strconv.Atoi(raw)
	if err != nil || try < 1 {
		return badRequest("task_try_number", "expected a try number from 1, got %q", raw)
	}
	_, ti, err := s.taskInstance(r)
	if err != nil {
		return err
	}
	if try > ti.TryNumber {
		return notFound("Log", "task %s of run %s has had %d tries; try %d has not started", ti.TaskID, ti.RunID, ti.TryNumber, try)
	}
	path := tasklog.Path(s.o.Config.LogsDir(), ti.DagID, ti.RunID, ti.TaskID, try)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("Log", "no log file for try %d of task %s (run %s) on this server", try, ti.TaskID, ti.RunID)
	}
	if err != nil {
		return fmt.Errorf("open log of try %d: %w", try, err)
	}
	defer f.Close()
	if wantsJSON(r) {
		data, err := io.ReadAll(f)
		if err != nil {
			return fmt.Errorf("read log of try %d: %w", try, err)
		}
		return writeJSON(w, http.StatusOK, map[string]any{"content": string(data), "continuation_token": nil})
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, f)
	return nil
}

// wantsJSON reports whether the Accept header prefers application/json
// over text/plain: the first of the two it lists wins, text by default.
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "application/json":
			return true
		case "text/plain":
			return false
		}
	}
	return false
}
