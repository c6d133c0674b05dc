// Package httpop is Airflow's HttpOperator: one HTTP request through an
// http connection, its response checked and returned as the XCom.
//
//	Execute: read fields → resolve the connection, mask its secrets
//	  → build the request (base URL + endpoint, headers, auth, body)
//	  → attempt (timeout each; the body read bounded by max_response_bytes)
//	     ├ 5xx refused by the check, or a connection error, repeats left
//	     │  → wait retry_backoff (doubling, Retry-After honoured, ≤ 1m) → attempt
//	     └ otherwise → response_check → response_filter → return_value
//
// Cancel (timeout, mark, shutdown) ends the request or the wait at once. A
// request leaves nothing running outside the process, so there is no
// handle: a try cut by a restart is sent again by the next try, and
// requests should be idempotent, as in Airflow.
//
// Check, the declarative response check, is shared with the http sensor.
package httpop
