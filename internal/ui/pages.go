package ui

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
)

// adminPages are the pages under /admin/, in the order the menu lists them.
var adminPages = []string{"connections", "variables", "pools", "users", "audit"}

// pageInfo describes one page: its title and the scripts it loads besides
// its own module (/static/js/<name>.js).
type pageInfo struct {
	title   string
	scripts []string
}

var pageInfos = map[string]pageInfo{
	"dags":        {title: "DAGs"},
	"grid":        {title: "Grid"},
	"graph":       {title: "Graph", scripts: []string{"/static/vendor/elk.bundled.js"}},
	"gantt":       {title: "Gantt"},
	"trigger":     {title: "Trigger"},
	"task":        {title: "Task instance"},
	"connections": {title: "Connections"},
	"variables":   {title: "Variables"},
	"pools":       {title: "Pools"},
	"users":       {title: "Users"},
	"audit":       {title: "Audit log"},
	"notfound":    {title: "Not found"},
}

// pageData is what the layout and a page's content template render.
type pageData struct {
	Page, Title, Section string
	DagID, RunID, TaskID string
	Scripts              []string
	Message              string
	AdminPages           []string
	DAGTabs              []tab
	HasDAG               bool
	// Groups are the task groups the task page's task is in, outermost
	// first: its breadcrumb reads DAG > run > group > subgroup > task.
	Groups []crumb
}

// crumb is a task group in the task page's breadcrumb: its id as written,
// its full id and tooltip in the title.
type crumb struct {
	Label, Title string
}

// tab is one link of the DAG page's tab bar.
type tab struct {
	Name, Href string
	Current    bool
}

// parsePages builds one template per page: the layout with that page's
// content. The templates are embedded, so a parse error is a bug that
// every test run finds.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{"adminTitle": func(name string) string { return pageInfos[name].title }}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	out := make(map[string]*template.Template, len(pageInfos))
	for name := range pageInfos {
		t := template.Must(base.Clone())
		template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
		out[name] = t
	}
	return out
}

// page renders the shell of page name; its script fills it from the API.
func (h *handler) page(w http.ResponseWriter, r *http.Request, name string) {
	d := pageData{Page: name, Title: pageInfos[name].title, Scripts: pageInfos[name].scripts, AdminPages: adminPages,
		DagID: r.PathValue("dag_id"), RunID: r.PathValue("run_id"), TaskID: r.PathValue("task_id"), Section: "dags"}
	if slices.Contains(adminPages, name) {
		d.Section = name
	}
	if d.DagID != "" {
		if !h.knownDAG(r, d.DagID) {
			h.notFound(w, r, "There is no DAG "+d.DagID+" (its file may have errors: see the DAG list).")
			return
		}
		d.HasDAG = true
		d.Title = d.DagID + " · " + d.Title
		d.DAGTabs = dagTabs(d.DagID, name)
	}
	if name == "task" {
		d.Groups = h.crumbs(d.DagID, d.TaskID)
	}
	h.render(w, http.StatusOK, name, d)
}

// dagTabs is the tab bar of a DAG's pages.
func dagTabs(id, current string) []tab {
	base := "/dags/" + pathEscape(id)
	tabs := []tab{{"Grid", base, false}, {"Graph", base + "/graph", false}, {"Gantt", base + "/gantt", false},
		{"Trigger", base + "/trigger", false}}
	for i := range tabs {
		tabs[i].Current = (current == "grid" && i == 0) || (current == "graph" && i == 1) ||
			(current == "gantt" && i == 2) || (current == "trigger" && i == 3)
	}
	return tabs
}

// crumbs are the groups of a task for its page's breadcrumb (none when
// the DAG or the task is no longer loaded).
func (h *handler) crumbs(dagID, taskID string) []crumb {
	dags, _ := h.o.DAGs()
	var out []crumb
	for _, g := range groupPath(dags[dagID], taskID) {
		title := "task group " + g.ID
		if g.Tooltip != "" {
			title += ": " + g.Tooltip
		}
		out = append(out, crumb{Label: g.Label, Title: title})
	}
	return out
}

// knownDAG reports whether id is a loaded DAG or one the store remembers
// (its runs are still there to look at).
func (h *handler) knownDAG(r *http.Request, id string) bool {
	if dags, _ := h.o.DAGs(); dags[id] != nil {
		return true
	}
	_, err := h.o.Store.GetDAG(r.Context(), id)
	return err == nil
}

// notFound answers the not-found page with msg.
func (h *handler) notFound(w http.ResponseWriter, _ *http.Request, msg string) {
	h.render(w, http.StatusNotFound, "notfound", pageData{Page: "notfound", Title: "Not found", Message: msg,
		AdminPages: adminPages})
}

// render executes a page into a buffer first, so a template error is a
// clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; the reason is in the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
