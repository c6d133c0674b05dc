package airflowimport

import (
	"fmt"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/dag"
)

// nameScheme is the URI scheme given to an asset that has a name and no
// URI (Airflow 3's Asset(name=...)) or a URI without a scheme, which
// Sirocco requires: the producer and the consumer both converted by the
// importer get the same URI.
const nameScheme = "x-airflow-asset://"

// assetURI is the normalised URI of an encoded Asset ("" when it has none,
// reported).
func (c *converter) assetURI(loc, task, key string, v any) string {
	uri := str(field(v, "uri"))
	if uri == "" {
		uri = str(field(v, "name"))
	}
	if uri != "" && !strings.Contains(uri, "://") {
		named := nameScheme + uri
		c.add(loc, task, fmt.Sprintf("%s: the asset %q has no URI scheme: written %s", key, uri, named),
			"give the asset a URI (s3://..., file:///...) in every DAG that names it")
		uri = named
	}
	norm, err := dag.NormalizeAssetURI(uri)
	if err != nil {
		c.add(loc, task, fmt.Sprintf("%s: %v; left out", key, err), "give the asset a URI Sirocco accepts (README, Data-aware scheduling)")
		return ""
	}
	return norm
}

// assetRefs converts outlets or inlets: a list of Assets (or one), each
// a URI or {uri, extra}.
func (c *converter) assetRefs(loc, task, key string, v any) any {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var out []any
	for _, it := range items {
		if kind(it) != "asset" {
			c.add(loc, task, fmt.Sprintf("%s: %s is not an Asset; left out", key, truncate(describe(it), 60)),
				"name the asset with Asset(\"scheme://...\"); asset aliases and lineage objects are not supported")
			continue
		}
		uri := c.assetURI(loc, task, key, it)
		if uri == "" {
			continue
		}
		extra, _ := field(it, "extra").(map[string]any)
		if len(extra) == 0 {
			out = append(out, uri)
			continue
		}
		p, err := plain(extra)
		if err != nil {
			c.add(loc, task, fmt.Sprintf("%s: the extra of %s: %v; left out", key, uri, err), "")
			out = append(out, uri)
			continue
		}
		out = append(out, map[string]any{"uri": uri, "extra": p})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// isAssetSchedule reports whether a schedule is made of assets.
func isAssetSchedule(v any) bool {
	switch kind(v) {
	case "asset", "asset_all", "asset_any":
		return true
	}
	l, ok := v.([]any)
	return ok && len(l) > 0 && isAssetSchedule(l[0])
}

// assetSchedule converts schedule=[Asset...], Asset, AssetAll/AssetAny
// and | & between assets; nil when nothing usable is left.
func (c *converter) assetSchedule(v any) any {
	if l, ok := v.([]any); ok {
		items := c.assetItems(l, 0)
		if len(items) == 0 {
			return nil
		}
		return items
	}
	if kind(v) == "asset" {
		if uri := c.assetURI(c.d.Loc, "", "schedule", v); uri != "" {
			return []any{uri}
		}
		return nil
	}
	cond := c.assetCond(v, 0)
	if cond == nil {
		return nil
	}
	return map[string]any{"assets": cond}
}

// maxAssetNesting bounds the conditions read (as the loader bounds them).
const maxAssetNesting = 32

func (c *converter) assetItems(l []any, depth int) []any {
	var out []any
	for _, it := range l {
		switch kind(it) {
		case "asset":
			if uri := c.assetURI(c.d.Loc, "", "schedule", it); uri != "" {
				out = append(out, uri)
			}
		case "asset_all", "asset_any":
			if cond := c.assetCond(it, depth+1); cond != nil {
				out = append(out, cond)
			}
		default:
			c.add(c.d.Loc, "", fmt.Sprintf("schedule: %s is not an Asset; left out", truncate(describe(it), 60)), "")
		}
	}
	return out
}

// assetCond converts AssetAll/AssetAny to {all: [...]} / {any: [...]}.
func (c *converter) assetCond(v any, depth int) any {
	op := strings.TrimPrefix(kind(v), "asset_")
	if op != "all" && op != "any" {
		return nil
	}
	if depth > maxAssetNesting {
		c.add(c.d.Loc, "", "schedule: an asset condition nested too deep; left out", "")
		return nil
	}
	l, _ := field(v, "items").([]any)
	items := c.assetItems(l, depth)
	if len(items) == 0 {
		return nil
	}
	return map[string]any{op: items}
}
