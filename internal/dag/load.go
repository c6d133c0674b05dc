package dag

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadOptions are the loader's dependencies, passed in so that this package
// knows nothing about operators or the template engine.
type LoadOptions struct {
	// Operators are the known operators and their fields, by name; a task's
	// operator must be one of them.
	Operators map[string]OperatorSpec
	// CheckTemplate checks the syntax of a templated string (nil: no check),
	// so that a typo in "{{ ds }" fails at load time rather than mid-run.
	// LoadDir calls it from several goroutines at once.
	CheckTemplate func(src string) error
}

// MaxFileSize bounds a DAG file; anything larger is surely not a DAG, and
// reading it whole would let one stray file exhaust memory.
const MaxFileSize = 8 << 20

// LoadFile parses and validates one DAG file. On any problem it returns a
// nil DAG and an error joining one *FileError per problem found (all of
// them, not just the first), so that a user fixes a file in one go.
func LoadFile(path string, opts LoadOptions) (*DAG, error) {
	d, _, err := loadFile(path, opts)
	return d, err
}

func loadFile(path string, opts LoadOptions) (*DAG, *yaml.Node, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, errors.Join(&FileError{File: path, Msg: err.Error(), err: err})
	}
	return parse(path, data, opts)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d MiB", MaxFileSize>>20)
	}
	return data, nil
}

// Parse is LoadFile for bytes already read; name is used in messages.
func Parse(name string, data []byte, opts LoadOptions) (*DAG, error) {
	d, _, err := parse(name, data, opts)
	return d, err
}

// parse also returns the dag_id node, which LoadDir needs to point at a
// duplicate id.
func parse(name string, data []byte, opts LoadOptions) (*DAG, *yaml.Node, error) {
	l := &loader{file: name, opts: opts, budget: 100_000 + 8*len(data)}
	var d *DAG
	var idNode *yaml.Node
	if root := l.parseYAML(data); root != nil {
		d, idNode = l.dag(root)
	}
	if len(l.errs) > 0 || d == nil {
		if len(l.errs) == 0 { // cannot happen; never return (nil, nil)
			l.errAt(nil, "", "invalid DAG file")
		}
		return nil, nil, joinFileErrors(l.errs)
	}
	d.Index()
	return d, idNode, nil
}

// loader holds the state of loading one file: its problems so far and the
// guards against hostile YAML.
type loader struct {
	file      string
	opts      LoadOptions
	errs      []*FileError
	budget    int
	exhausted bool
	expanding map[*yaml.Node]bool
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parseYAML returns the root node of the single document in data, or nil
// after recording why there is none.
func (l *loader) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 has had panics on crafted input
			l.errAt(nil, "", "YAML parser failed: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errAt(&yaml.Node{Line: 1, Column: 1}, "", "empty file (a DAG needs at least dag_id and tasks)")
		} else {
			l.syntaxErr(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		l.syntaxErr(err)
		return nil
	default:
		pos := &extra
		if len(extra.Content) > 0 {
			pos = extra.Content[0]
		}
		l.errAt(pos, "", "a second YAML document starts here; a DAG file holds exactly one")
		return nil
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		l.errAt(&yaml.Node{Line: 1, Column: 1}, "", "empty file (a DAG needs at least dag_id and tasks)")
		return nil
	}
	return doc.Content[0]
}

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For these yaml.v3 reports a 0-based line (that of the enclosing
// block or flow collection, or of the problem when that block starts on the
// first line), so one is added to get the 1-based line editors expect.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

func (l *loader) syntaxErr(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FileError{File: l.file, Msg: "YAML syntax error: " + msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = "YAML syntax error: " + m[2]
		if yamlParserProblems[m[2]] {
			fe.Line++
		}
	}
	l.errs = append(l.errs, fe)
}

// known indexes entries by name and reports those not in allowed, with a
// did-you-mean hint.
func (l *loader) known(entries []entry, field string, allowed []string) map[string]entry {
	out := make(map[string]entry, len(entries))
	for _, e := range entries {
		if !slices.Contains(allowed, e.name) {
			l.unknownKey(e, field, allowed)
			continue
		}
		out[e.name] = e
	}
	return out
}

func (l *loader) unknownKey(e entry, field string, allowed []string) {
	l.errAt(e.key, field, "unknown key %s%s", quoteShort(e.name), didYouMean(e.name, allowed))
}

// set returns the entry for key if present and not null.
func set(m map[string]entry, key string) (entry, bool) {
	e, ok := m[key]
	return e, ok && !isNull(e.val)
}

// dag decodes the top-level mapping.
func (l *loader) dag(root *yaml.Node) (*DAG, *yaml.Node) {
	entries, ok := l.mapEntries(root, "")
	if !ok {
		return nil, nil
	}
	keys := l.known(entries, "", topKeyNames)
	d := &DAG{
		ScheduleSpec:   "none",
		Timezone:       time.UTC,
		MaxActiveRuns:  defaultMaxActive,
		MaxActiveTasks: defaultMaxActive,
		Params:         map[string]Param{},
		Tags:           []string{},
		FileLoc:        l.file,
	}

	var idNode *yaml.Node
	if e, ok := keys["dag_id"]; ok {
		if id, ok := l.ident(e.val, "dag_id"); ok {
			d.ID, idNode = id, e.val
		}
	} else {
		l.errAt(root, "", "missing required key \"dag_id\"")
	}
	if e, ok := set(keys, "description"); ok {
		d.Description, _ = l.str(e.val, "description")
	}
	if e, ok := set(keys, "timezone"); ok {
		if name, ok := l.str(e.val, "timezone"); ok {
			if loc, err := loadLocation(name); err != nil {
				l.errAt(e.val, "timezone", "%v", err)
			} else {
				d.Timezone = loc
			}
		}
	}
	schedOK := true
	if e, ok := set(keys, "schedule"); ok {
		spec, ok := l.str(e.val, "schedule")
		if ok && strings.TrimSpace(spec) != "" {
			d.ScheduleSpec = spec
		}
		schedOK = ok
	}
	if schedOK {
		s, err := ParseSchedule(d.ScheduleSpec, d.Timezone)
		if err != nil {
			l.errAt(keys["schedule"].val, "schedule", "%v", err)
			schedOK = false
		}
		d.Schedule = s
	}
	if e, ok := set(keys, "start_date"); ok {
		d.StartDate, _ = l.date(e.val, "start_date", d.Timezone)
	} else if schedOK && IsPeriodic(d.Schedule) {
		l.errAt(root, "", "missing required key \"start_date\" (a DAG with schedule %s needs one)", quoteShort(d.ScheduleSpec))
	}
	if schedOK && IsPeriodic(d.Schedule) {
		// robfig/cron accepts expressions that never match ("0 0 30 2 *")
		// and then returns zero times; catch them here, not in the scheduler.
		ref := d.StartDate
		if ref.IsZero() {
			ref = time.Now()
		}
		if iv, ok := d.Schedule.First(ref); !ok || iv.Start.IsZero() || iv.End.IsZero() {
			l.errAt(keys["schedule"].val, "schedule", "schedule %s never fires (no matching time within 5 years)", quoteShort(d.ScheduleSpec))
		}
	}
	if e, ok := set(keys, "end_date"); ok {
		if end, ok := l.date(e.val, "end_date", d.Timezone); ok {
			d.EndDate = end
			if !d.StartDate.IsZero() && end.Before(d.StartDate) {
				l.errAt(e.val, "end_date", "end_date %s is before start_date %s",
					end.Format(time.RFC3339), d.StartDate.Format(time.RFC3339))
			}
		}
	}
	if e, ok := set(keys, "catchup"); ok {
		d.Catchup, _ = l.boolean(e.val, "catchup")
	}
	if e, ok := set(keys, "max_active_runs"); ok {
		d.MaxActiveRuns = l.positive(e.val, "max_active_runs", d.MaxActiveRuns)
	}
	if e, ok := set(keys, "max_active_tasks"); ok {
		d.MaxActiveTasks = l.positive(e.val, "max_active_tasks", d.MaxActiveTasks)
	}
	if e, ok := set(keys, "dagrun_timeout"); ok {
		d.DagrunTimeout, _ = l.duration(e.val, "dagrun_timeout")
	}
	if e, ok := set(keys, "params"); ok {
		d.Params = l.params(e.val)
	}
	if e, ok := set(keys, "tags"); ok {
		d.Tags = l.tags(e.val)
	}
	base := l.defaultArgs(keys)
	if e, ok := keys["tasks"]; ok {
		d.Tasks = l.tasks(e.val, base)
	} else {
		l.errAt(root, "", "missing required key \"tasks\"")
	}
	return d, idNode
}

// positive reads an integer that must be at least 1; on error it returns def.
func (l *loader) positive(n *yaml.Node, field string, def int) int {
	i, ok := l.integer(n, field)
	if !ok {
		return def
	}
	if i < 1 {
		l.errAt(n, field, "must be at least 1, got %d", i)
		return def
	}
	return i
}

// ident reads a dag or task id: Airflow's [A-Za-z0-9_.-]{1,250}, which is
// safe in URLs, file names and log paths.
func (l *loader) ident(n *yaml.Node, field string) (string, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return "", false
	}
	if err := checkID(s); err != nil {
		l.errAt(n, field, "%v", err)
		return "", false
	}
	return s, true
}

func checkID(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > maxIDLen {
		return fmt.Errorf("is longer than %d characters", maxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("invalid id %s (only letters, digits, '_', '.' and '-' are allowed)", quoteShort(s))
		}
	}
	return nil
}

func (l *loader) tags(n *yaml.Node) []string {
	r := resolve(n)
	if r.Kind != yaml.SequenceNode {
		l.typeErr(n, "tags", wantStringList)
		return []string{}
	}
	out := make([]string, 0, len(r.Content))
	for i, c := range r.Content {
		if s, ok := l.str(c, indexField("tags", i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// zoneCache saves re-reading the zoneinfo file for every DAG in the same
// zone (time.LoadLocation does not cache).
var zoneCache sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	bad := fmt.Errorf("unknown time zone %s (expected an IANA name such as \"UTC\" or \"Europe/Paris\")", quoteShort(name))
	if name == "" || name == "Local" || strings.EqualFold(name, "local") {
		return nil, bad // the host's zone would make the schedule depend on the machine
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad
	}
	zoneCache.Store(name, loc)
	return loc, nil
}
