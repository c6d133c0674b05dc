package api

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/auth"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// assetJSON is an asset as Airflow's Asset, with the DAGs and tasks of
// the loaded DAG files that consume, produce and read it.
type assetJSON struct {
	URI            string         `json:"uri"`
	ProducingTasks []taskRefJSON  `json:"producing_tasks"`
	ConsumingDAGs  []dagRefJSON   `json:"consuming_dags"`
	ReadingTasks   []taskRefJSON  `json:"reading_tasks"`
	TotalEvents    int            `json:"total_events"`
	LastEventAt    *string        `json:"last_event_at"`
	Extra          map[string]any `json:"extra"`
}

type taskRefJSON struct {
	DagID  string `json:"dag_id"`
	TaskID string `json:"task_id"`
}

type dagRefJSON struct {
	DagID string `json:"dag_id"`
}

// assetEventJSON is Airflow's AssetEvent; source_try_number is the try
// whose success recorded it.
type assetEventJSON struct {
	ID              int64          `json:"id"`
	URI             string         `json:"uri"`
	Extra           map[string]any `json:"extra"`
	SourceDagID     *string        `json:"source_dag_id"`
	SourceRunID     *string        `json:"source_run_id"`
	SourceTaskID    *string        `json:"source_task_id"`
	SourceMapIndex  int            `json:"source_map_index"`
	SourceTryNumber *int           `json:"source_try_number"`
	Timestamp       *string        `json:"timestamp"`
}

// listAssets is GET /assets: every asset the DAGs name or that had events.
func (s *server) listAssets(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	dags, _ := s.o.DAGs()
	list, err := actions.ListAssets(r.Context(), s.o.Store, dags)
	if err != nil {
		return fmt.Errorf("list assets: %w", err)
	}
	out := make([]assetJSON, len(list))
	for i, a := range list {
		cons := make([]dagRefJSON, len(a.Consumers))
		for j, c := range a.Consumers {
			cons[j] = dagRefJSON{DagID: c}
		}
		out[i] = assetJSON{URI: a.URI, ProducingTasks: s.taskRefsOf(dags, a.URI, true), ConsumingDAGs: cons,
			ReadingTasks: s.taskRefsOf(dags, a.URI, false), TotalEvents: a.Events, LastEventAt: ts(a.LastEventAt),
			Extra: map[string]any{}}
	}
	return writeJSON(w, http.StatusOK, collection("assets", paginate(out, p), len(out)))
}

// taskRefsOf lists the tasks with uri as an outlet (or an inlet), by DAG
// and task (a "dag.task" string cannot be split: ids may hold dots).
func (s *server) taskRefsOf(dags map[string]*dag.DAG, uri string, outlets bool) []taskRefJSON {
	refs := []taskRefJSON{}
	for id, d := range dags {
		for _, t := range d.Tasks {
			list := t.Inlets
			if outlets {
				list = t.Outlets
			}
			for _, a := range list {
				if a.URI == uri {
					refs = append(refs, taskRefJSON{DagID: id, TaskID: t.ID})
				}
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		return refs[i].DagID < refs[j].DagID || refs[i].DagID == refs[j].DagID && refs[i].TaskID < refs[j].TaskID
	})
	return refs
}

// listAssetEvents is GET /assets/events, newest first, ?uri= to select
// one asset.
func (s *server) listAssetEvents(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	f := store.AssetEventFilter{}
	if v := r.URL.Query().Get("uri"); v != "" {
		uri, err := dag.NormalizeAssetURI(v)
		if err != nil {
			return badRequest("uri", "%v", err)
		}
		f.URI = uri
	}
	evs, err := s.o.Store.ListAssetEvents(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list asset events: %w", err)
	}
	out := make([]assetEventJSON, len(evs))
	for i, e := range evs {
		out[i] = assetEventOf(e)
	}
	return writeJSON(w, http.StatusOK, collection("asset_events", paginate(out, p), len(out)))
}

func assetEventOf(e store.AssetEvent) assetEventJSON {
	j := assetEventJSON{ID: e.ID, URI: e.URI, Extra: e.Extra, SourceMapIndex: e.SourceMap - 1, Timestamp: ts(e.Timestamp),
		SourceDagID: strOrNil(e.SourceDagID), SourceRunID: strOrNil(e.SourceRunID), SourceTaskID: strOrNil(e.SourceTaskID)}
	if j.Extra == nil {
		j.Extra = map[string]any{}
	}
	if e.SourceTaskID != "" {
		try := e.SourceTry
		j.SourceTryNumber = &try
	}
	return j
}

// assetEventBody is Airflow 3's CreateAssetEventsBody, by URI.
type assetEventBody struct {
	URI   *string        `json:"uri"`
	Extra map[string]any `json:"extra"`
}

// postAssetEvent is POST /assets/events: an event recorded by hand, which
// the DAGs scheduled on the asset consume as any other.
func (s *server) postAssetEvent(w http.ResponseWriter, r *http.Request) error {
	var body assetEventBody
	if _, err := decodeFields(r, &body); err != nil {
		return err
	}
	if body.URI == nil {
		return badRequest("uri", "uri is required")
	}
	auth.NoteFrom(r.Context()).Set("uri", *body.URI)
	dags, _ := s.o.DAGs()
	ev, err := actions.CreateAssetEvent(r.Context(), s.o.Store, dags, *body.URI, body.Extra, s.o.Now().UTC())
	if err != nil {
		return err
	}
	if s.o.Kick != nil {
		s.o.Kick()
	}
	return writeJSON(w, http.StatusOK, assetEventOf(ev))
}
