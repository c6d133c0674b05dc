package api

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/dag"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// dagJSON is Airflow's DAG (and, for one DAG, DAGDetail's extra fields).
type dagJSON struct {
	DagID                string    `json:"dag_id"`
	DagDisplayName       string    `json:"dag_display_name"`
	Description          *string   `json:"description"`
	FileLoc              string    `json:"fileloc"`
	IsPaused             bool      `json:"is_paused"`
	IsActive             bool      `json:"is_active"`
	LastParsedTime       *string   `json:"last_parsed_time"`
	Owners               []string  `json:"owners"`
	Tags                 []tagJSON `json:"tags"`
	ScheduleInterval     any       `json:"schedule_interval"`
	TimetableDescription string    `json:"timetable_description"`
	MaxActiveRuns        int       `json:"max_active_runs"`
	MaxActiveTasks       int       `json:"max_active_tasks"`
	HasImportErrors      bool      `json:"has_import_errors"`
	*dagDetailJSON
}

// dagDetailJSON holds what only GET /dags/{dag_id} shows.
type dagDetailJSON struct {
	Timezone      string               `json:"timezone"`
	Catchup       bool                 `json:"catchup"`
	StartDate     *string              `json:"start_date"`
	EndDate       *string              `json:"end_date"`
	DagRunTimeout *timeDelta           `json:"dag_run_timeout"`
	Params        map[string]paramJSON `json:"params"`
	TaskIDs       []string             `json:"task_ids"`
	TaskGroups    []taskGroupJSON      `json:"task_groups"`
}

// taskGroupJSON is one task group of a DAG's details: its full id, the id
// as written, the tasks written in it and its nested groups; depends_on
// names the tasks and groups its first tasks wait for.
type taskGroupJSON struct {
	GroupID       string          `json:"group_id"`
	Label         string          `json:"label"`
	Tooltip       string          `json:"tooltip"`
	PrefixGroupID bool            `json:"prefix_group_id"`
	DependsOn     []string        `json:"depends_on"`
	TaskIDs       []string        `json:"task_ids"`
	Groups        []taskGroupJSON `json:"groups"`
}

func taskGroupsOf(gs []*dag.TaskGroup) []taskGroupJSON {
	out := make([]taskGroupJSON, len(gs))
	for i, g := range gs {
		out[i] = taskGroupJSON{GroupID: g.ID, Label: g.Label, Tooltip: g.Tooltip, PrefixGroupID: g.PrefixGroupID,
			DependsOn: append([]string{}, g.DependsOn...), TaskIDs: append([]string{}, g.TaskIDs...), Groups: taskGroupsOf(g.Groups)}
	}
	return out
}

type tagJSON struct {
	Name string `json:"name"`
}

// paramJSON is a DAG param as Airflow serialises one: its default value
// and a JSON Schema fragment.
type paramJSON struct {
	Value       any            `json:"value"`
	Description *string        `json:"description"`
	Schema      map[string]any `json:"schema"`
}

// lookupDAG returns a loaded DAG, or a 404 saying why it is not there.
func (s *server) lookupDAG(id string) (*dag.DAG, error) {
	dags, errs := s.o.DAGs()
	if d := dags[id]; d != nil {
		return d, nil
	}
	files := make([]string, 0, len(errs))
	for f := range errs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if strings.Contains(errs[f].Error(), id) {
			return nil, notFound("DAG", "DAG %q is not loaded: %s has errors (see %s/importErrors)", id, f, Prefix)
		}
	}
	return nil, notFound("DAG", "DAG with dag_id %q not found", id)
}

// knownDAG accepts a DAG that is loaded or that the store remembers (its
// file was removed, its runs remain), for read-only endpoints.
func (s *server) knownDAG(r *http.Request, id string) error {
	_, err := s.lookupDAG(id)
	if err == nil {
		return nil
	}
	if _, serr := s.o.Store.GetDAG(r.Context(), id); serr == nil {
		return nil
	}
	return err
}

func (s *server) listDAGs(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	paused, pausedSet, err := boolParam(r, "paused")
	if err != nil {
		return err
	}
	pattern := strings.ToLower(r.URL.Query().Get("dag_id_pattern"))
	tags := r.URL.Query()["tags"]
	recs, err := s.records(r)
	if err != nil {
		return err
	}
	dags, errs := s.o.DAGs()
	ids := make([]string, 0, len(dags))
	for id, d := range dags {
		if pausedSet && recs[id].Paused != paused {
			continue
		}
		if pattern != "" && !strings.Contains(strings.ToLower(id), pattern) {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(d.Tags, t) }) {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]dagJSON, 0, min(p.limit, len(ids)))
	for _, id := range paginate(ids, p) {
		out = append(out, dagOf(dags[id], recs[id], errs))
	}
	return writeJSON(w, http.StatusOK, collection("dags", out, len(ids)))
}

func (s *server) getDAG(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	return s.writeDAG(w, r, d)
}

// patchDAG pauses or unpauses a DAG: {"is_paused": true}.
func (s *server) patchDAG(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDAG(r.PathValue("dag_id"))
	if err != nil {
		return err
	}
	var body struct {
		IsPaused *bool `json:"is_paused"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.IsPaused == nil {
		return badRequest("is_paused", "is_paused is required (the only field that can be changed)")
	}
	if err := actions.SetPaused(r.Context(), s.o.Store, d, *body.IsPaused, s.now()); err != nil {
		return fmt.Errorf("set paused of %s: %w", d.ID, err)
	}
	s.kick()
	return s.writeDAG(w, r, d)
}

func (s *server) writeDAG(w http.ResponseWriter, r *http.Request, d *dag.DAG) error {
	rec, err := s.o.Store.GetDAG(r.Context(), d.ID)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("read DAG %s: %w", d.ID, err)
	}
	_, errs := s.o.DAGs()
	out := dagOf(d, rec, errs)
	out.dagDetailJSON = detailOf(d)
	return writeJSON(w, http.StatusOK, out)
}

// records returns the store's rows of every DAG (pause flags) by id.
func (s *server) records(r *http.Request) (map[string]store.DAGRecord, error) {
	list, err := s.o.Store.ListDAGs(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list DAGs: %w", err)
	}
	out := make(map[string]store.DAGRecord, len(list))
	for _, rec := range list {
		out[rec.DagID] = rec
	}
	return out, nil
}

func dagOf(d *dag.DAG, rec store.DAGRecord, errs map[string]error) dagJSON {
	tags := make([]tagJSON, len(d.Tags))
	for i, t := range d.Tags {
		tags[i] = tagJSON{Name: t}
	}
	_, broken := errs[d.FileLoc]
	return dagJSON{
		DagID: d.ID, DagDisplayName: d.ID, Description: strOrNil(d.Description), FileLoc: d.FileLoc,
		IsPaused: rec.Paused, IsActive: true, LastParsedTime: ts(rec.LastParsed), Owners: []string{}, Tags: tags,
		ScheduleInterval: scheduleInterval(d), TimetableDescription: d.ScheduleSpec,
		MaxActiveRuns: d.MaxActiveRuns, MaxActiveTasks: d.MaxActiveTasks, HasImportErrors: broken,
	}
}

func detailOf(d *dag.DAG) *dagDetailJSON {
	params := make(map[string]paramJSON, len(d.Params))
	for name, p := range d.Params {
		schema := map[string]any{}
		if p.Type != "" {
			schema["type"] = p.Type
		}
		if len(p.Enum) > 0 {
			schema["enum"] = p.Enum
		}
		params[name] = paramJSON{Value: p.Default, Description: strOrNil(p.Description), Schema: schema}
	}
	ids := make([]string, len(d.Tasks))
	for i, t := range d.Tasks {
		ids[i] = t.ID
	}
	tz := "UTC"
	if d.Timezone != nil {
		tz = d.Timezone.String()
	}
	return &dagDetailJSON{Timezone: tz, Catchup: d.Catchup, StartDate: ts(d.StartDate), EndDate: ts(d.EndDate),
		DagRunTimeout: delta(d.DagrunTimeout), Params: params, TaskIDs: ids, TaskGroups: taskGroupsOf(d.Groups)}
}

// scheduleInterval is Airflow's schedule_interval: null for manual-only
// DAGs and DAGs scheduled on assets, a TimeDelta for "every <duration>", else a CronExpression holding
// the schedule as written (a cron line or a preset).
func scheduleInterval(d *dag.DAG) any {
	if d.Schedule == nil || !dag.IsPeriodic(d.Schedule) {
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(d.ScheduleSpec), "every ") {
		if iv, ok := d.Schedule.First(time.Unix(0, 0).UTC()); ok {
			return delta(iv.End.Sub(iv.Start))
		}
	}
	return map[string]string{"__type": "CronExpression", "value": d.ScheduleSpec}
}
