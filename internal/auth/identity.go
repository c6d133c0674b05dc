package auth

import "context"

// How an identity was established, as /api/v1/auth/me reports it.
const (
	ViaSession = "session" // the sirocco_session cookie
	ViaToken   = "token"   // a bearer token of a user (from /auth/token or the CLI)
	ViaService = "service" // the service token, api_token
	ViaNone    = "none"    // no user exists yet: loopback callers are trusted
)

// Identity is who makes a request and what they may do.
type Identity struct {
	Username string
	Role     Role
	Auth     string // ViaSession, ViaToken, ViaService or ViaNone
}

type ctxKey struct{}

// NewContext returns ctx carrying id; the middleware does this for every
// request it lets through, tests may too.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the middleware found, if any: handlers
// use it to check roles, the UI to show the user and hide what their role
// may not do.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Allowed reports whether the request's identity has at least role min.
func Allowed(ctx context.Context, min Role) bool {
	id, ok := FromContext(ctx)
	if min == Public {
		return true
	}
	return ok && id.Role.Allows(min)
}
