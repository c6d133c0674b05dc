package dag

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// xcomRef is a task id a template passes as a literal to ti.xcom_pull.
type xcomRef struct {
	id    string
	node  *yaml.Node
	field string
}

// maxXComRefs bounds the references kept per file, so that a hostile file
// cannot make the loader hold millions; past it, pulls are checked when
// the template renders, as computed ids are.
const maxXComRefs = 10_000

// noteXComRefs records the literal task ids template s (at n, field) pulls
// XComs from; checkXComRefs checks them once every task id is known, since
// default_args and early tasks may name tasks defined further down.
func (l *loader) noteXComRefs(n *yaml.Node, field, s string) {
	if l.opts.XComTaskIDs == nil || !strings.Contains(s, "xcom_pull") || len(l.xcomRefs) >= maxXComRefs {
		return
	}
	l.at(n, field)
	ids := safeXComTaskIDs(l.opts.XComTaskIDs, s)
	l.done()
	for _, id := range ids {
		if len(l.xcomRefs) < maxXComRefs {
			l.xcomRefs = append(l.xcomRefs, xcomRef{id: id, node: n, field: field})
		}
	}
}

// safeXComTaskIDs turns a panic in the template engine into no ids: the
// render will report what it finds.
func safeXComTaskIDs(f func(string) []string, s string) (ids []string) {
	defer func() {
		if recover() != nil {
			ids = nil
		}
	}()
	return f(s)
}

// checkXComRefs reports each recorded pull from a task the DAG lacks.
func (l *loader) checkXComRefs(drafts []*draft) {
	if len(l.xcomRefs) == 0 {
		return
	}
	known := make(map[string]bool, len(drafts))
	var ids []string
	for _, dr := range drafts {
		if dr.task != nil && dr.task.ID != "" && !known[dr.task.ID] {
			known[dr.task.ID] = true
			ids = append(ids, dr.task.ID)
		}
	}
	for _, r := range l.xcomRefs {
		if !known[r.id] {
			l.errAt(r.node, r.field, "ti.xcom_pull of unknown task %s%s", quoteShort(r.id), l.hint(r.id, ids))
		}
	}
}
