// Package ui is Sirocco's web UI: server-rendered page shells (html/template)
// with small plain JavaScript modules, all embedded in the binary, so the UI
// works offline with nothing to build.
//
// The pages read the REST API (/api/v1) for almost everything and a few
// UI-only read endpoints under /ui/api where the REST API would be too
// chatty or slow:
//
//	/ui/api/dags     the DAG list's recent runs and next run, for every DAG in one answer
//	/ui/api/grid     runs x tasks states of one DAG (the grid), compact, with its task groups
//	                 and each mapped task's count of instances per run (its cell their summary)
//	/ui/api/ti       one task instance's rendered fields, tries and readable handle (?map_index=N:
//	                 an instance of a mapped task; without it, an expanded mapped task's instances)
//	/ui/api/gantt    one run's task instances with every try's times (earlier tries from their logs)
//	/ui/api/events   server-sent events: "change" whenever a task instance or run changed
//	/ui/api/log      server-sent events: one try's log, tailed while it runs
//
//	store change cursor --poll--> /ui/api/events --SSE--> page --fetch--> /ui/api/grid ...
//
// Authentication and roles belong to package auth, which wraps this handler;
// the pages ask /api/v1/auth/me who the user is (404: no auth, everything
// allowed) and hide what the role may not do. The server enforces it.
package ui
