package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/actions"
	"github.com/sirocco-dev/sirocco/internal/store"
)

// errorDocs is where Airflow documents its error types; the problem "type"
// points there so a client written for Airflow recognises them.
const errorDocs = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors/"

// problem is an error answer, RFC 7807 problem JSON as Airflow sends it.
// Field, when set, names the request field at fault.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
	Field  string `json:"field,omitempty"`

	kind  string   // Airflow's error name: NotFound, BadRequest...
	allow []string // methods, for 405
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

func badRequest(field, format string, args ...any) *problem {
	detail := fmt.Sprintf(format, args...)
	if field != "" && !strings.HasPrefix(detail, field) {
		detail = field + ": " + detail
	}
	return &problem{Status: http.StatusBadRequest, Title: "Bad request", Detail: detail, Field: field, kind: "BadRequest"}
}

func notFound(what, format string, args ...any) *problem {
	return &problem{Status: http.StatusNotFound, Title: what + " not found", Detail: fmt.Sprintf(format, args...), kind: "NotFound"}
}

// fail answers err as problem JSON. Errors of the caller's making get a
// 4xx naming what is wrong; anything else is logged and answered 500
// without its text, which may name internals.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := s.classify(err)
	if p.Status >= 500 {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	p.Type = errorDocs + p.kind
	if len(p.allow) > 0 {
		w.Header().Set("Allow", strings.Join(p.allow, ", "))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sirocco"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func (s *server) classify(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	var inv *actions.InvalidError
	switch {
	case errors.As(err, &inv):
		return badRequest(inv.Field, "%s", inv.Err.Error())
	case errors.Is(err, actions.ErrInvalid):
		return badRequest("", "%s", err.Error())
	case errors.Is(err, store.ErrNotFound):
		return &problem{Status: http.StatusNotFound, Title: "Not found", Detail: err.Error(), kind: "NotFound"}
	case errors.Is(err, store.ErrExists):
		return &problem{Status: http.StatusConflict, Title: "Already exists", Detail: err.Error(), kind: "AlreadyExists"}
	case errors.Is(err, actions.ErrRefused):
		return &problem{Status: http.StatusConflict, Title: "Conflict", Detail: err.Error(), kind: "InvalidState"}
	case errors.Is(err, actions.ErrConflict):
		return &problem{Status: http.StatusConflict, Title: "Conflict", Detail: err.Error(), kind: "AlreadyExists"}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &problem{Status: http.StatusRequestEntityTooLarge, Title: "Request body too large",
			Detail: fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), kind: "BadRequest"}
	}
	return &problem{Status: http.StatusInternalServerError, Title: "Internal error",
		Detail: "the server could not answer; the reason is in its log", kind: "Unknown"}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
