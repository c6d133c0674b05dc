package dag

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Asset is a piece of data a task produces (an outlet) or reads (an
// inlet), named by a URI as Airflow's Asset (formerly Dataset). Extra is
// the static extra of the asset events the task records.
type Asset struct {
	URI   string
	Extra map[string]any
}

// AssetCondition is a DAG's asset schedule, Airflow's AssetAll / AssetAny:
// a leaf names one URI; an inner node holds all or any of its children.
// The DAG gets a run when the condition holds over the assets that had an
// event since its last asset-triggered run.
type AssetCondition struct {
	URI      string // a leaf when set
	Any      bool   // an inner node: any child (else all of them)
	Children []*AssetCondition
}

// Holds reports whether the condition is met when exactly the assets for
// which updated returns true have new events.
func (c *AssetCondition) Holds(updated func(uri string) bool) bool {
	if c.URI != "" {
		return updated(c.URI)
	}
	for _, ch := range c.Children {
		if ch.Holds(updated) == c.Any {
			return c.Any // any: one holds; all: one does not
		}
	}
	return !c.Any
}

// URIs lists the URIs the condition names, sorted, each once: the assets
// whose events are queued for the DAG.
func (c *AssetCondition) URIs() []string {
	seen := map[string]bool{}
	var walk func(*AssetCondition)
	walk = func(n *AssetCondition) {
		if n.URI != "" {
			seen[n.URI] = true
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(c)
	out := make([]string, 0, len(seen))
	for u := range seen {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// String is the condition as `dags list` and the API show it:
// all(s3://a, any(s3://b, s3://c)).
func (c *AssetCondition) String() string {
	if c.URI != "" {
		return c.URI
	}
	parts := make([]string, len(c.Children))
	for i, ch := range c.Children {
		parts[i] = ch.String()
	}
	op := "all"
	if c.Any {
		op = "any"
	}
	return op + "(" + strings.Join(parts, ", ") + ")"
}

// Limits of an asset schedule, so that a hostile file costs little.
const (
	maxAssetDepth = 16
	maxAssetURI   = 1500 // Airflow's column length
)

// ReservedAssetScheme is the scheme Airflow keeps for itself.
const ReservedAssetScheme = "airflow"

// NormalizeAssetURI checks and normalises an asset URI as Airflow 3's
// _sanitize_uri does (airflow/sdk/definitions/asset): ASCII only, the
// scheme lowercased, trailing slashes of the path and the fragment
// dropped, the query sorted. Sirocco is stricter where Airflow only
// warns: a scheme is required and credentials in the URI are an error,
// as a URI is shown to every user and stored in clear.
func NormalizeAssetURI(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("asset URI is empty")
	case len(s) > maxAssetURI:
		return "", fmt.Errorf("asset URI is %d bytes long (at most %d)", len(s), maxAssetURI)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 || s[i] == 0x7f {
			return "", fmt.Errorf("asset URI %s must consist of printable ASCII characters only", quoteShort(s))
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("asset URI %s is not a URI: %w", quoteShort(s), unwrapURLErr(err))
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("asset URI %s has no scheme (expected e.g. s3://bucket/key, file:///data/x or x-my-scheme://name)", quoteShort(s))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == ReservedAssetScheme {
		return "", fmt.Errorf("asset URI %s: the scheme %q is reserved by Airflow", quoteShort(s), ReservedAssetScheme)
	}
	if u.User != nil {
		return "", fmt.Errorf("asset URI %s must not contain credentials (user or password before '@'): put them in a connection", quoteShort(redactUser(u)))
	}
	if u.Opaque != "" {
		return "", fmt.Errorf("asset URI %s: expected %s:// followed by a location", quoteShort(s), scheme)
	}
	if strings.HasPrefix(scheme, "x-") {
		return scheme + s[len(u.Scheme):], nil // Airflow leaves x- URIs as written
	}
	u.Scheme = scheme
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if u.Path == "" {
		u.Path = "/"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "", fmt.Errorf("asset URI %s has a bad query: %w", quoteShort(s), err)
		}
		u.RawQuery = q.Encode() // sorted by key
	}
	return u.String(), nil
}

func unwrapURLErr(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactUser hides the password of a URI quoted in an error.
func redactUser(u *url.URL) string {
	c := *u
	if _, ok := c.User.Password(); ok {
		c.User = url.UserPassword(c.User.Username(), "xxxxx")
	}
	return c.String()
}

// assetRefs reads a task's outlets or inlets: a list of URIs, or of
// {uri, extra} mappings.
func (l *loader) assetRefs(n *yaml.Node, field string) []Asset {
	r := resolve(n)
	if isNull(r) {
		return nil
	}
	if r.Kind != yaml.SequenceNode {
		l.typeErr(n, field, "a list of asset URIs or {uri, extra} mappings")
		return nil
	}
	var out []Asset
	for i, item := range r.Content {
		f := indexField(field, i)
		if a, ok := l.assetRef(item, f); ok {
			if slices.ContainsFunc(out, func(b Asset) bool { return b.URI == a.URI }) {
				l.errAt(item, f, "asset %s is listed twice", quoteShort(a.URI))
				continue
			}
			out = append(out, a)
		}
	}
	return out
}

var assetRefKeys = []string{"uri", "extra"}

// assetRef reads one outlet or inlet.
func (l *loader) assetRef(n *yaml.Node, field string) (Asset, bool) {
	r := resolve(n)
	if r != nil && r.Kind == yaml.ScalarNode {
		return l.assetURI(n, field)
	}
	if r == nil || r.Kind != yaml.MappingNode {
		l.typeErr(n, field, "an asset URI or a mapping {uri, extra}")
		return Asset{}, false
	}
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return Asset{}, false
	}
	keys := l.known(entries, field, assetRefKeys)
	e, ok := set(keys, "uri")
	if !ok {
		l.errAt(n, field, "missing required key \"uri\"")
		return Asset{}, false
	}
	a, ok := l.assetURI(e.val, subField(field, "uri"))
	if e, has := set(keys, "extra"); has && ok {
		v, good := l.value(e.val, subField(field, "extra"), false)
		m, isMap := v.(map[string]any)
		switch {
		case !good:
			return Asset{}, false
		case !isMap:
			l.typeErr(e.val, subField(field, "extra"), wantMapping)
			return Asset{}, false
		}
		a.Extra = m
	}
	return a, ok
}

// assetURI reads and normalises one URI.
func (l *loader) assetURI(n *yaml.Node, field string) (Asset, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return Asset{}, false
	}
	uri, err := NormalizeAssetURI(s)
	if err != nil {
		l.errAt(n, field, "%v", err)
		return Asset{}, false
	}
	return Asset{URI: uri}, true
}

// isAssetSchedule reports whether a schedule value is an asset condition
// (a list or a mapping) rather than a cron, preset or "none" string.
func isAssetSchedule(n *yaml.Node) bool {
	r := resolve(n)
	return r != nil && (r.Kind == yaml.SequenceNode || r.Kind == yaml.MappingNode)
}

// assetSchedule reads `schedule:` given as assets: a list of URIs (all
// of them), or {assets: <list> | {all: [...]} | {any: [...]}}, where each
// item is a URI or a nested {all: [...]} / {any: [...]}.
func (l *loader) assetSchedule(n *yaml.Node) (*AssetCondition, bool) {
	r := resolve(n)
	if r.Kind == yaml.SequenceNode {
		return l.assetList(n, "schedule", false, 1)
	}
	entries, ok := l.mapEntries(n, "schedule")
	if !ok {
		return nil, false
	}
	keys := l.known(entries, "schedule", []string{"assets"})
	e, ok := keys["assets"]
	if !ok {
		if len(entries) == 0 {
			l.errAt(n, "schedule", "expected a cron expression, a preset, \"none\", a list of asset URIs or {assets: ...}, got an empty mapping")
		}
		return nil, false
	}
	if resolve(e.val) != nil && resolve(e.val).Kind == yaml.SequenceNode {
		return l.assetList(e.val, "schedule.assets", false, 1)
	}
	return l.assetOp(e.val, "schedule.assets", 1)
}

// assetOp reads a mapping {all: [...]} or {any: [...]}.
func (l *loader) assetOp(n *yaml.Node, field string, depth int) (*AssetCondition, bool) {
	if !l.enterNode(n, field) {
		return nil, false
	}
	defer l.leaveNode(n)
	if depth > maxAssetDepth {
		l.errAt(n, field, "asset condition nested more than %d levels deep", maxAssetDepth)
		return nil, false
	}
	entries, ok := l.mapEntries(n, field)
	if !ok {
		return nil, false
	}
	keys := l.known(entries, field, []string{"all", "any"})
	if len(keys) != 1 || len(entries) != 1 {
		if len(keys) == len(entries) {
			l.errAt(n, field, "expected exactly one of \"all\" or \"any\", got %d keys", len(entries))
		}
		return nil, false
	}
	for name, e := range keys {
		return l.assetList(e.val, subField(field, name), name == "any", depth)
	}
	return nil, false
}

// assetList reads the items of an all or any.
func (l *loader) assetList(n *yaml.Node, field string, anyOf bool, depth int) (*AssetCondition, bool) {
	if !l.enterNode(n, field) {
		return nil, false
	}
	defer l.leaveNode(n)
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		l.typeErr(n, field, "a list of asset URIs or {all: [...]} / {any: [...]}")
		return nil, false
	}
	if len(r.Content) == 0 {
		l.errAt(n, field, "expected at least one asset, got an empty list")
		return nil, false
	}
	c := &AssetCondition{Any: anyOf}
	ok := true
	for i, item := range r.Content {
		if !l.spend() {
			return nil, false
		}
		f := indexField(field, i)
		ri := resolve(item)
		var ch *AssetCondition
		good := false
		switch {
		case ri != nil && ri.Kind == yaml.MappingNode:
			ch, good = l.assetOp(item, f, depth+1)
		default:
			var a Asset
			a, good = l.assetURI(item, f)
			ch = &AssetCondition{URI: a.URI}
		}
		ok = ok && good
		if good {
			c.Children = append(c.Children, ch)
		}
	}
	return c, ok
}

// enterNode marks the node n is (or names, for an alias) as being read,
// reporting an alias to a node that contains it, which would nest forever.
func (l *loader) enterNode(n *yaml.Node, field string) bool {
	r := resolve(n)
	if r == nil {
		return true
	}
	if !l.enter(r) {
		l.errAt(n, field, "alias *%s refers to a node that contains it", shortText(n.Value, maxQuoteLen))
		return false
	}
	return true
}

func (l *loader) leaveNode(n *yaml.Node) {
	if r := resolve(n); r != nil {
		l.leave(r)
	}
}

// assetScheduled sets d's schedule from an asset condition; it reports
// whether the condition is usable.
func (l *loader) assetScheduled(d *DAG, n *yaml.Node) bool {
	c, ok := l.assetSchedule(n)
	if !ok || c == nil {
		return false
	}
	d.Schedule = noSchedule{}
	d.AssetSchedule = c
	d.ScheduleSpec = "assets: " + c.String()
	return true
}

// AssetConsumers maps each URI to the ids of the DAGs scheduled on it,
// sorted: the DAGs an event of that URI is queued for.
func AssetConsumers(dags map[string]*DAG) map[string][]string {
	out := map[string][]string{}
	for id, d := range dags {
		if d.AssetSchedule == nil {
			continue
		}
		for _, uri := range d.AssetSchedule.URIs() {
			out[uri] = append(out[uri], id)
		}
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}
