package actions

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a request its caller must correct (an unknown task, a
// conf that does not match the DAG's params, a bad date), so the API can
// answer 400 rather than 500.
var ErrInvalid = errors.New("invalid request")

// ErrConflict marks a write that lost a race with another writer (the
// scheduler moved the task meanwhile): the caller may simply try again.
var ErrConflict = errors.New("conflict")

// ErrRefused marks a request the target's state forbids whatever the
// caller retries (marking a removed instance), so the API answers 409.
var ErrRefused = errors.New("refused")

// InvalidError is a bad request naming the field at fault, so an API answer
// can point at it ("conf", "task_ids", "logical_date", "new_state").
// Its message is the underlying error's alone.
type InvalidError struct {
	Field string
	Err   error
}

func (e *InvalidError) Error() string { return e.Err.Error() }

// Unwrap exposes both the cause and ErrInvalid to errors.Is and errors.As.
func (e *InvalidError) Unwrap() []error { return []error{e.Err, ErrInvalid} }

func invalid(field string, err error) error { return &InvalidError{Field: field, Err: err} }

func invalidf(field, format string, args ...any) error {
	return invalid(field, fmt.Errorf(format, args...))
}

// kindError carries a message for people and a kind (a sentinel) for code,
// so classifying an error never changes the words the CLI prints.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func kindf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}
