package auth

import (
	"mime"
	"net/http"
)

// maxFormBody bounds a form the CSRF check reads.
const maxFormBody = 64 << 10

// checkCSRF is the double-submit check of a state-changing request
// authenticated by the session whose secret is session: the cookie
// sirocco_csrf and the header X-CSRF-Token (or, for a form, the field
// csrf_token) must both hold the session's CSRF token. Another site can
// make a browser send the cookies, but cannot read them to set the header.
func checkCSRF(r *http.Request, session string) *failure {
	want := csrfFor(session)
	c, err := r.Cookie(CSRFCookie)
	if err != nil || !sameSecret(c.Value, want) {
		return forbidden("CSRF check failed: the " + CSRFCookie + " cookie is missing or does not belong to this session; reload the page")
	}
	sent := r.Header.Get(CSRFHeader)
	if sent == "" && isForm(r) {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBody)
		sent = r.PostFormValue(CSRFField)
	}
	if sent == "" || !sameSecret(sent, want) {
		return forbidden("CSRF check failed: send the " + CSRFCookie + " cookie's value in the " + CSRFHeader + " header")
	}
	return nil
}

// isForm reports whether r's body is an HTML form.
func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data")
}

// setCSRFCookie gives the page the CSRF token, readable by its script.
func (a *Auth) setCSRFCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: value, Path: "/", MaxAge: maxAge,
		Secure: a.o.Secure, HttpOnly: false, SameSite: http.SameSiteLaxMode})
}
