// Package auth is who may do what in Sirocco's HTTP server: users with
// Airflow's roles (Viewer < User < Op < Admin), their passwords (argon2id),
// browser sessions, bearer tokens, CSRF protection, login rate limiting
// and the audit log of state-changing calls.
//
// One request goes through Middleware:
//
//	Authorization: Bearer ─► service token (api_token)     ─► Admin "service"
//	                      └► user token (/auth/token, CLI)  ─► the user's role
//	cookie sirocco_session ─► session (stored hashed)       ─► the user's role
//	                           └► unsafe method: CSRF check (cookie sirocco_csrf == X-CSRF-Token)
//	no credentials ─► no user and no api_token yet: a loopback caller (peer and Host, no proxy) is Admin "anonymous"
//	                  └► unsafe method: refused when a browser says another site sent it
//	               └► otherwise: public path (health, OpenAPI, /login, /static) or 401 / 303 /login
//	then next (API, UI), which checks the route's role (Check, Require);
//	a state-changing call of an identified caller is recorded in the event log.
//
// Secrets (sessions, tokens) are 256 random bits handed out once; the
// store keeps their SHA-256 only, so a database dump opens nothing and
// logout or revocation is a row deletion, effective at once everywhere the
// database is shared.
package auth
