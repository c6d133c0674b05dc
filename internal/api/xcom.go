package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sirocco-dev/sirocco/internal/connection"
	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// xcomJSON is Airflow's XCom entry. Value is the JSON text the task
// pushed, as Airflow's stringified value, or the decoded value with
// ?deserialize=true; known secrets in it are masked (knownSecrets).
type xcomJSON struct {
	Key           string  `json:"key"`
	DagID         string  `json:"dag_id"`
	DagRunID      string  `json:"dag_run_id"`
	TaskID        string  `json:"task_id"`
	MapIndex      int     `json:"map_index"`
	ExecutionDate *string `json:"execution_date"`
	Timestamp     *string `json:"timestamp"`
	Value         any     `json:"value"`
}

// getXCom answers one XCom entry. There is no listing: the store looks
// entries up by key only.
func (s *server) getXCom(w http.ResponseWriter, r *http.Request) error {
	deserialize, _, err := boolParam(r, "deserialize")
	if err != nil {
		return err
	}
	run, err := s.run(r)
	if err != nil {
		return err
	}
	key := store.TaskKey{DagID: run.DagID, RunID: run.RunID, TaskID: r.PathValue("task_id")}
	name := r.PathValue("xcom_key")
	x, err := s.o.Store.GetXCom(r.Context(), key, name)
	if isNotFound(err) {
		return notFound("XCom entry", "task %s of run %s has no XCom %q", key.TaskID, key.RunID, name)
	}
	if err != nil {
		return fmt.Errorf("read XCom %s of %s/%s/%s: %w", name, key.DagID, key.RunID, key.TaskID, err)
	}
	secrets, err := s.knownSecrets(r.Context())
	if err != nil {
		return err
	}
	out := xcomJSON{Key: x.Key, DagID: x.DagID, DagRunID: x.RunID, TaskID: x.TaskID, MapIndex: -1,
		ExecutionDate: ts(run.LogicalDate), Value: secrets.Mask(x.Value)}
	if deserialize {
		var v any
		if err := json.Unmarshal([]byte(x.Value), &v); err == nil {
			out.Value = secrets.MaskValue(v)
		}
	}
	return writeJSON(w, http.StatusOK, out)
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
