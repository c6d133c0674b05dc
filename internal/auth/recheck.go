package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// errNoCredentials is StillValid's answer when the request's credentials
// now identify no one (logged out, user deleted, token revoked or expired).
var errNoCredentials = errors.New("the credentials of this request are no longer valid")

// StillValid checks again, for an answer that lasts (the UI's event streams
// and log tails), the credentials a request came with: the middleware
// checks them only when the request starts. It returns when they expire
// (zero: never, as the service token or the no-user mode), or why they no
// longer hold: the session was logged out, the user deleted or given
// another role, the token revoked or expired, a user was created (the
// no-user mode is over).
func (a *Auth) StillValid(r *http.Request) (time.Time, error) {
	id, _, f := a.identify(r)
	if f != nil {
		return time.Time{}, f
	}
	if id == nil {
		return time.Time{}, errNoCredentials
	}
	if was, ok := FromContext(r.Context()); ok && (was.Username != id.Username || was.Role != id.Role || was.Auth != id.Auth) {
		return time.Time{}, errors.New("the user's account or role changed since the request started")
	}
	var secret string
	switch id.Auth {
	case ViaSession:
		c, err := r.Cookie(SessionCookie)
		if err != nil {
			return time.Time{}, errNoCredentials
		}
		secret = c.Value
	case ViaToken:
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		secret = strings.TrimSpace(tok)
	default:
		return time.Time{}, nil
	}
	t, err := a.o.Store.GetAuthToken(r.Context(), digest(secret))
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, errNoCredentials
	}
	if err != nil {
		return time.Time{}, a.storeFailure(err)
	}
	return t.ExpiresAt, nil
}
