package api

import (
	"context"
	"net/http"
	"sort"
	"strconv"
)

// importErrorJSON is Airflow's ImportError: a DAG file that does not load,
// with every problem (file, line, column, field) in stack_trace.
type importErrorJSON struct {
	ImportErrorID int     `json:"import_error_id"`
	Timestamp     *string `json:"timestamp"`
	Filename      string  `json:"filename"`
	StackTrace    string  `json:"stack_trace"`
}

// importErrors lists the current import errors sorted by file; an id is
// the position in that list (from 1), so it is stable while the set of
// broken files is. The timestamp is when a scheduler recorded the error.
func (s *server) importErrors(ctx context.Context) []importErrorJSON {
	_, errs := s.o.DAGs()
	files := make([]string, 0, len(errs))
	for f := range errs {
		files = append(files, f)
	}
	sort.Strings(files)
	seen := map[string]*string{}
	if stored, err := s.o.Store.ListImportErrors(ctx); err == nil {
		for _, ie := range stored {
			seen[ie.FileLoc] = ts(ie.Timestamp)
		}
	}
	out := make([]importErrorJSON, len(files))
	for i, f := range files {
		out[i] = importErrorJSON{ImportErrorID: i + 1, Timestamp: seen[f], Filename: f, StackTrace: errs[f].Error()}
	}
	return out
}

func (s *server) listImportErrors(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	all := s.importErrors(r.Context())
	return writeJSON(w, http.StatusOK, collection("import_errors", paginate(all, p), len(all)))
}

func (s *server) getImportError(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("import_error_id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 1 {
		return badRequest("import_error_id", "expected a positive integer, got %q", raw)
	}
	all := s.importErrors(r.Context())
	if id > len(all) {
		return notFound("ImportError", "import error %d not found (there are %d)", id, len(all))
	}
	return writeJSON(w, http.StatusOK, all[id-1])
}
