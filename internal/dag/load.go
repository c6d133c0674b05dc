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
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
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
	// XComTaskIDs returns the task ids a templated string passes as
	// literals to ti.xcom_pull (nil: no check), so that a pull from a
	// task the DAG does not have fails at load time, with a hint. It is
	// called only for strings CheckTemplate accepted, from several
	// goroutines at once.
	XComTaskIDs func(src string) []string
	// CheckExecutorConfig checks a task's executor_config (nil: any
	// mapping), each problem an error naming its field.
	CheckExecutorConfig func(map[string]any) error
	// ReadTimeout bounds the time reading one file may take (0:
	// DefaultReadTimeout), so that a file on a hung network file system
	// becomes an import error instead of stalling every scan.
	ReadTimeout time.Duration

	// Test seams: a parser that panics, a read that hangs.
	parseSchedule func(string, *time.Location) (Schedule, error)
	readFile      func(path string) ([]byte, error)
}

// MaxFileSize bounds a DAG file; anything larger is surely not a DAG, and
// reading it whole would let one stray file exhaust memory.
const MaxFileSize = 8 << 20

// DefaultReadTimeout is the ReadTimeout used when none is set.
const DefaultReadTimeout = 10 * time.Second

// LoadFile parses and validates one DAG file. On any problem it returns a
// nil DAG and an error joining one *FileError per problem found (all of
// them, not just the first), so that a user fixes a file in one go.
func LoadFile(path string, opts LoadOptions) (*DAG, error) {
	data, err := newPendingReads().read(path, opts)
	if err != nil {
		return nil, readError(path, err)
	}
	p := parse(path, data, opts)
	return p.dag, p.err
}

func readError(path string, err error) error {
	return errors.Join(&FileError{File: path, Msg: err.Error(), err: err})
}

// readDAGFile reads path, which must be a regular file (or a symlink to
// one) of at most MaxFileSize bytes. A named pipe, socket or device is
// refused before it is opened, and again after (by the open file's own
// mode, in case the path was swapped in between); the open does not block
// on a pipe either way.
func readDAGFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	tooLarge := fmt.Errorf("not loaded: larger than %d MiB", MaxFileSize>>20)
	if info.Size() > MaxFileSize {
		return nil, tooLarge
	}
	// The size may be wrong (a file being written, /proc): read one byte
	// past the bound rather than trusting it.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge
	}
	return data, nil
}

// checkRegular refuses anything but a regular file: reading a named pipe
// blocks until someone writes to it, and a device may never end.
func checkRegular(info os.FileInfo) error {
	m := info.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeCharDevice != 0:
		kind = "a character device"
	case m&os.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("not loaded: %s, not a regular file", kind)
}

// Parse is LoadFile for bytes already read; name is used in messages.
func Parse(name string, data []byte, opts LoadOptions) (*DAG, error) {
	p := parse(name, data, opts)
	return p.dag, p.err
}

// parsed is the outcome of loading one file. id is the dag_id as written
// even when the file has other problems (empty if unreadable), and idNode
// its position, which LoadDir needs to decide and report which file holds
// an id that several define.
type parsed struct {
	dag    *DAG
	id     string
	idNode *yaml.Node
	err    error
}

// parse loads one file's bytes. It is the file boundary: a panic in any
// parser (ours, yaml.v3's, the cron library's) becomes one more problem of
// this file, so that one odd file never takes a scheduler down.
func parse(name string, data []byte, opts LoadOptions) (p parsed) {
	l := &loader{file: name, opts: opts, budget: 100_000 + 8*len(data), hintsLeft: hintBudget}
	defer func() {
		if r := recover(); r != nil {
			p = parsed{id: l.dagID, idNode: l.idNode, err: l.panicked(r)}
		}
	}()
	var d *DAG
	if root := l.parseYAML(data); root != nil {
		d = l.dag(root)
	}
	if len(l.errs) > 0 || d == nil {
		if len(l.errs) == 0 { // cannot happen; never return (nil, nil)
			l.errAt(nil, "", "invalid DAG file")
		}
		return parsed{id: l.dagID, idNode: l.idNode, err: joinFileErrors(l.errs, l.dropped)}
	}
	d.Index()
	return parsed{dag: d, id: d.ID, idNode: l.idNode}
}

// loader holds the state of loading one file: its problems so far and the
// guards against hostile YAML.
type loader struct {
	file      string
	opts      LoadOptions
	errs      []*FileError
	seen      map[errKey]struct{}
	dropped   int // problems past maxFileErrors
	budget    int
	exhausted bool
	hintsLeft int
	expanding map[*yaml.Node]bool
	taskKeys  []string  // allTaskKeys, once computed
	xcomRefs  []xcomRef // checked once every task id is known

	dagID  string
	idNode *yaml.Node
	// cur is the value a parser is reading, for a panic's report; set by
	// at and cleared by done (not by defer, which would clear it before
	// parse recovers).
	cur struct {
		node  *yaml.Node
		field string
	}
}

// at notes that the value n of field is being parsed; see panicked.
func (l *loader) at(n *yaml.Node, field string) { l.cur.node, l.cur.field = n, field }

// done clears what at noted.
func (l *loader) done() { l.at(nil, "") }

// panicked turns a recovered panic into the file's last problem, placed at
// the value being parsed when known.
func (l *loader) panicked(r any) error {
	fe := &FileError{File: l.file, Field: l.cur.field,
		Msg: "internal error while loading this file: " + shortText(fmt.Sprint(r), maxQuoteLen*2) + " (please report it)"}
	if n := l.cur.node; n != nil {
		fe.Line, fe.Column = n.Line, n.Column
		fe.Msg = "internal error while reading this value: " + shortText(fmt.Sprint(r), maxQuoteLen*2) + " (please report it)"
	}
	l.errs = append(l.errs, fe)
	return joinFileErrors(l.errs, l.dropped)
}

var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`) })

// yamlQuoteRE finds what yaml.v3 quotes from the file in its messages (an
// anchor's name, a tag).
var yamlQuoteRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("'[^']*'") })

// shortQuotes cuts what a yaml.v3 message quotes from the file as
// quoteShort would, and the message as a whole.
func shortQuotes(msg string) string {
	msg = yamlQuoteRE().ReplaceAllStringFunc(msg, func(q string) string {
		return "'" + shortText(q[1:len(q)-1], maxQuoteLen) + "'"
	})
	return shortText(msg, maxMsgLen)
}

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
	fe := &FileError{File: l.file, Msg: "YAML syntax error: " + shortQuotes(msg)}
	if m := yamlLineRE().FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = "YAML syntax error: " + shortQuotes(m[2])
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

// unknownKey reports key e, hinting at Sirocco's spelling of an Airflow
// key first, then at the closest allowed key.
func (l *loader) unknownKey(e entry, field string, allowed []string) {
	hint := airflowKeyHint(e.name, allowed)
	if hint == "" {
		hint = l.hint(e.name, allowed)
	}
	l.errAt(e.key, field, "unknown key %s%s", quoteShort(e.name), hint)
}

// set returns the entry for key if present and not null.
func set(m map[string]entry, key string) (entry, bool) {
	e, ok := m[key]
	return e, ok && !isNull(e.val)
}

// dag decodes the top-level mapping.
func (l *loader) dag(root *yaml.Node) *DAG {
	entries, ok := l.mapEntries(root, "")
	if !ok {
		return nil
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

	if e, ok := keys["dag_id"]; ok {
		if id, ok := l.ident(e.val, "dag_id"); ok {
			d.ID, l.dagID, l.idNode = id, id, e.val
		}
	} else {
		l.errAt(root, "", "missing required key \"dag_id\"")
	}
	if e, ok := set(keys, "description"); ok {
		d.Description, _ = l.str(e.val, "description")
	}
	if e, ok := set(keys, "timezone"); ok {
		if name, ok := l.str(e.val, "timezone"); ok {
			l.at(e.val, "timezone")
			loc, err := loadLocation(name)
			l.done()
			if err != nil {
				l.errAt(e.val, "timezone", "%v", err)
			} else {
				d.Timezone = loc
			}
		}
	}
	schedOK := l.schedule(d, keys)
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
		l.at(keys["schedule"].val, "schedule")
		if iv, ok := d.Schedule.First(ref); !ok || iv.Start.IsZero() || iv.End.IsZero() {
			l.errAt(keys["schedule"].val, "schedule", "schedule %s never fires (no matching time within 5 years)", quoteShort(d.ScheduleSpec))
		}
		l.done()
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
	if e, ok := set(keys, "preflight"); ok {
		d.Preflight = l.connIDs(e.val, "preflight")
	}
	l.dagCallbacks(d, keys)
	d.Tasks, d.Groups = l.taskTree(root, keys, l.defaultArgs(keys))
	return d
}

// maxScheduleLen bounds a schedule, in bytes: the longest sensible cron
// expression lists every minute of an hour in about 170.
const maxScheduleLen = 256

// schedule reads the schedule into d (ParseSchedule, or the test seam) and
// reports whether it is usable.
func (l *loader) schedule(d *DAG, keys map[string]entry) bool {
	e, ok := set(keys, "schedule")
	if ok && isAssetSchedule(e.val) {
		return l.assetScheduled(d, e.val)
	}
	if ok {
		spec, ok := l.str(e.val, "schedule")
		if !ok {
			return false
		}
		if len(spec) > maxScheduleLen {
			l.errAt(e.val, "schedule", "schedule too long (max %d bytes)", maxScheduleLen)
			return false
		}
		if strings.TrimSpace(spec) != "" {
			d.ScheduleSpec = spec
		}
	}
	parseSchedule := ParseSchedule
	if l.opts.parseSchedule != nil {
		parseSchedule = l.opts.parseSchedule
	}
	l.at(e.val, "schedule")
	s, err := parseSchedule(d.ScheduleSpec, d.Timezone)
	l.done()
	if err != nil {
		l.errAt(e.val, "schedule", "%v", err)
		return false
	}
	d.Schedule = s
	if _, none := s.(noSchedule); none {
		// "None" (Python's spelling, which Airflow users write) and
		// "null" are shown as Sirocco's "none".
		d.ScheduleSpec = "none"
	}
	return true
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

// connIDs reads a connection id or a list of them, without duplicates.
// Whether each exists is only known when the check runs.
func (l *loader) connIDs(n *yaml.Node, field string) []string {
	r := resolve(n)
	items := []*yaml.Node{n}
	switch r.Kind {
	case yaml.ScalarNode:
	case yaml.SequenceNode:
		items = r.Content
	default:
		l.errAt(n, field, "expected a connection id or a list of them, got %s", describe(r))
		return nil
	}
	var out []string
	for i, c := range items {
		f := field
		if r.Kind == yaml.SequenceNode {
			f = indexField(field, i)
		}
		if id, ok := l.ident(c, f); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
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

// maxZoneLen bounds a time zone name; the longest IANA name has 32 bytes.
const maxZoneLen = 64

func loadLocation(name string) (*time.Location, error) {
	if len(name) > maxZoneLen {
		return nil, fmt.Errorf("time zone name too long (max %d bytes)", maxZoneLen)
	}
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
