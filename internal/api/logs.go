package api

import (
	"bytes"
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
// the file is written): text/plain, streamed whole, or {"content": ...}
// when the client asks for application/json. The JSON form holds at most
// the last maxJSONLog bytes, from a line's start, with "truncated": true
// and "skipped_bytes" when that is not the whole log, so a multi-GB log
// is never read into memory.
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
	if try > ti.TryNumber && ti.TryNumber == 0 && ti.State.Finished() && ti.Note != "" {
		return notFound("Log", "task %s of run %s ended %s without running a try: %s", ti.TaskID, ti.RunID, ti.State, ti.Note)
	}
	if try > ti.TryNumber {
		return notFound("Log", "task %s of run %s is at try %d; try %d has not started", ti.TaskID, ti.RunID, ti.TryNumber, try)
	}
	path := tasklog.MapPath(s.o.Config.LogsDir(), ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), try)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("Log", "no log file for try %d of task %s (run %s) on this server", try, ti.TaskID, ti.RunID)
	}
	if err != nil {
		return fmt.Errorf("open log of try %d: %w", try, err)
	}
	defer f.Close()
	if wantsJSON(r) {
		data, skipped, err := lastBytes(f, maxJSONLog)
		if err != nil {
			return fmt.Errorf("read log of try %d: %w", try, err)
		}
		out := map[string]any{"content": string(data), "continuation_token": nil}
		if skipped > 0 {
			out["truncated"], out["skipped_bytes"] = true, skipped
			out["hint"] = "only the log's last lines are in the JSON form; ask for text/plain for the whole log"
		}
		return writeJSON(w, http.StatusOK, out)
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

// maxJSONLog bounds the content of the JSON form of a log.
const maxJSONLog = 1 << 20

// lastBytes reads f whole when it holds at most n bytes, else from the
// first line that starts within its last n bytes; skipped is how many
// bytes it left out.
func lastBytes(f *os.File, n int64) (data []byte, skipped int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if st.Size() <= n {
		data, err = io.ReadAll(io.LimitReader(f, n))
		return data, 0, err
	}
	// From the byte before the last n: is the first of them a line's start?
	start := st.Size() - n - 1
	data = make([]byte, n+1)
	m, err := f.ReadAt(data, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	data = data[:m]
	i := bytes.IndexByte(data, '\n')
	if i < 0 || i+1 == len(data) { // no line starts there: cut within one
		i = 0
	}
	return data[i+1:], start + int64(i) + 1, nil
}
