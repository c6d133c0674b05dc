package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// xcomJSON is Airflow's XCom entry, with the names of both Airflow 2
// (dag_run_id, execution_date) and Airflow 3 (run_id, logical_date).
// Value is the value the task pushed as a JSON value (an object stays an
// object), with ?stringify=true its JSON text; known secrets in it are
// masked (knownSecrets). Timestamp is when it was pushed.
type xcomJSON struct {
	Key           string  `json:"key"`
	DagID         string  `json:"dag_id"`
	DagRunID      string  `json:"dag_run_id"`
	RunID         string  `json:"run_id"`
	TaskID        string  `json:"task_id"`
	MapIndex      int     `json:"map_index"`
	ExecutionDate *string `json:"execution_date"`
	LogicalDate   *string `json:"logical_date"`
	Timestamp     *string `json:"timestamp"`
	Value         any     `json:"value"`
}

// xcomView says how an answer shows XCom values.
type xcomView struct {
	secrets   *tasklog.Secrets
	stringify bool
}

// xcomView reads ?stringify= (and ?deserialize=, Airflow's flag, accepted
// for its clients: values are JSON already) and the secrets to mask.
func (s *server) xcomView(r *http.Request) (xcomView, error) {
	if _, _, err := boolParam(r, "deserialize"); err != nil {
		return xcomView{}, err
	}
	stringify, _, err := boolParam(r, "stringify")
	if err != nil {
		return xcomView{}, err
	}
	secrets, err := s.knownSecrets(r.Context())
	if err != nil {
		return xcomView{}, err
	}
	return xcomView{secrets: secrets, stringify: stringify}, nil
}

// entry renders x of run.
func (v xcomView) entry(x store.XCom, run store.DagRun) xcomJSON {
	out := xcomJSON{Key: x.Key, DagID: x.DagID, DagRunID: x.RunID, RunID: x.RunID, TaskID: x.TaskID, MapIndex: x.MapIndex(),
		ExecutionDate: ts(run.LogicalDate), LogicalDate: ts(run.LogicalDate), Timestamp: ts(x.Timestamp)}
	if v.stringify {
		out.Value = v.secrets.Mask(x.Value)
	} else {
		out.Value = maskedValue(v.secrets, x.Value)
	}
	return out
}

// listXComs lists the XComs of a task instance, sorted by key, with their
// values (Airflow's listing leaves values out; a UI showing a try's XComs
// then needs one request per entry). ?xcom_key= keeps one key.
func (s *server) listXComs(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	view, err := s.xcomView(r)
	if err != nil {
		return err
	}
	run, ti, err := s.taskInstance(r)
	if err != nil {
		return err
	}
	all, err := s.o.Store.ListXComs(r.Context(), ti.TaskKey)
	if err != nil {
		return fmt.Errorf("list XComs of %s/%s/%s: %w", ti.DagID, ti.RunID, ti.TaskID, err)
	}
	if key := r.URL.Query().Get("xcom_key"); key != "" {
		kept := all[:0]
		for _, x := range all {
			if x.Key == key {
				kept = append(kept, x)
			}
		}
		all = kept
	}
	page := paginate(all, p)
	out := make([]xcomJSON, len(page))
	for i, x := range page {
		out[i] = view.entry(x, run)
	}
	return writeJSON(w, http.StatusOK, collection("xcom_entries", out, len(all)))
}

// getXCom answers one XCom entry.
func (s *server) getXCom(w http.ResponseWriter, r *http.Request) error {
	view, err := s.xcomView(r)
	if err != nil {
		return err
	}
	run, ti, err := s.taskInstance(r)
	if err != nil {
		return err
	}
	name := r.PathValue("xcom_key")
	x, err := s.o.Store.GetXCom(r.Context(), ti.TaskKey, name)
	if isNotFound(err) {
		return notFound("XCom entry", "task %s of run %s has no XCom %q", ti.TaskID, ti.RunID, name)
	}
	if err != nil {
		return fmt.Errorf("read XCom %s of %s/%s/%s: %w", name, ti.DagID, ti.RunID, ti.TaskID, err)
	}
	return writeJSON(w, http.StatusOK, view.entry(x, run))
}

// maskedValue decodes the JSON text an XCom holds and masks every string,
// object key and number that holds a known secret, however deep. Numbers
// keep their exact text. Text that is not one JSON value is answered as a
// string, masked. If a secret still shows once the result is encoded (it
// spans the JSON's punctuation), the whole value is masked.
func maskedValue(secrets *tasklog.Secrets, text string) any {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return secrets.Mask(text)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return secrets.Mask(text)
	}
	masked := secrets.MaskJSON(v)
	b, err := json.Marshal(masked)
	if err != nil || secrets.Mask(string(b)) != string(b) {
		return tasklog.Masked
	}
	return json.RawMessage(b)
}

// knownSecrets gathers what an answer carrying task output must mask, as
// the task's log did: the values of sensitive variables and the secrets of
// every connection, from the environment and the store. A task may push a
// secret it was given as its return value; the XCom keeps it (a downstream
// task may need it) but the API never shows it. When the secrets cannot be
// read, the answer is refused rather than given unmasked.
func (s *server) knownSecrets(ctx context.Context) (*tasklog.Secrets, error) {
	list, err := connection.KnownSecrets(ctx, s.o.Store, s.o.Keys, s.o.Environ)
	if err != nil {
		return nil, err
	}
	out := &tasklog.Secrets{}
	for _, secret := range list {
		out.Add(secret)
	}
	return out, nil
}
