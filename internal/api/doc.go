// Package api is Sirocco's REST API under /api/v1, named and shaped after
// Airflow's stable REST API v1 so that an Airflow user (or client) finds
// dags, dagRuns, taskInstances, logs, xcomEntries, connections, pools,
// variables, importErrors and health where they expect them.
//
// One request goes through:
//
//	auth's middleware (package auth): who is calling, CSRF, the audit log
//	└► ServeHTTP ─► /health ─────────────────────────────► health (no auth)
//	             └► guard: no CORS preflight, JSON Content-Type on writes
//	                └► mux (Go 1.22 method patterns) ─► the route's least role
//	                   (authorize: 401 / 403) ─► handler ─► JSON | problem JSON
//
// Handlers read the store and the DAGs the caller currently has loaded;
// writes go through package actions, the same code the CLI runs, and then
// wake the in-process scheduler (Options.Kick). Every route is listed once
// in routes() with its role, which the OpenAPI test checks against
// openapi.yaml (x-sirocco-role) and the authorization matrix against the
// answers.
package api
