package api

import (
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds what the create, update and delete endpoints of
// connections, variables and pools share: Airflow's update_mask and the
// checks of a name given in a body.

// patchFields returns the fields a PATCH applies, as Airflow's v1 API
// does: with ?update_mask= (comma-separated, or repeated), exactly the
// fields it names, each of which must be updatable and given in the body;
// without, every updatable field the body gives (an id field is checked
// by sameID, never updated).
func patchFields(r *http.Request, given map[string]bool, updatable []string) (map[string]bool, error) {
	var mask []string
	for _, v := range r.URL.Query()["update_mask"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				mask = append(mask, f)
			}
		}
	}
	apply := map[string]bool{}
	if len(mask) == 0 {
		for f := range given {
			if slices.Contains(updatable, f) {
				apply[f] = true
			}
		}
		return apply, nil
	}
	for _, f := range mask {
		if !slices.Contains(updatable, f) {
			return nil, badRequest("update_mask", "%q is unknown or cannot be updated (updatable: %s)", f, strings.Join(updatable, ", "))
		}
		if !given[f] {
			return nil, badRequest("update_mask", "names %q, which the request body does not give", f)
		}
		apply[f] = true
	}
	return apply, nil
}

// sameID checks that an id given in a PATCH body names the object of the
// path: an id cannot be changed.
func sameID(field string, body *string, path string) error {
	if body != nil && *body != path {
		return badRequest(field, "%s %q does not match %q in the path; it cannot be changed", field, *body, path)
	}
	return nil
}

// checkName checks a name given in a create body: present, not longer
// than maxLen bytes, and without NUL or other control characters, which no
// path could name and PostgreSQL cannot store.
func checkName(field string, name *string, maxLen int) error {
	switch {
	case name == nil || *name == "":
		return badRequest(field, "%s is required", field)
	case len(*name) > maxLen:
		return badRequest(field, "%s is longer than %d bytes", field, maxLen)
	case !utf8.ValidString(*name) || strings.ContainsFunc(*name, unicode.IsControl):
		return badRequest(field, "%s %q holds control characters", field, *name)
	}
	return nil
}

// storableText checks that a field stored as text in clear holds no NUL,
// which PostgreSQL cannot store (encrypted fields may hold any byte).
func storableText(field, value string) error {
	if strings.ContainsRune(value, 0) {
		return badRequest(field, "%s holds a NUL character", field)
	}
	return nil
}

// orEmpty is *p, or "" for nil (a field given as null).
func orEmpty(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// required names a missing field of a create body.
func required(field string, given map[string]bool) error {
	if !given[field] {
		return badRequest(field, "%s is required", field)
	}
	return nil
}

// deleted answers a DELETE that removed what it named: 204, no body.
func deleted(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
