package ssh

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/remotejob"
)

// HandleKind is the kind of the handles this operator stores.
const HandleKind = "ssh_job"

// handleVersion is the format of Handle.
const handleVersion = 1

// Handle is what an ssh try stores before it waits: where the job runs
// (connection and the host, port and user it reached), its job id, and,
// once Start answered, the job's remotejob handle and the output offsets
// already in the try's log. It holds no secret: the connection's are
// read again from the connection.
type Handle struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	ConnID  string `json:"conn_id"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	User    string `json:"user"`
	JobID   string `json:"job_id"`
	BaseDir string `json:"base_dir,omitempty"` // remote_base_dir as given ("": remotejob's default)
	// Job is nil in the pending handle stored before Start: the job may
	// or may not run, and Start (to resume) or Find (to stop) with JobID
	// tells which.
	Job         *remotejob.Handle `json:"job,omitempty"`
	Offsets     remotejob.Offsets `json:"offsets"`
	KillGraceMS int64             `json:"kill_grace_ms"`
	Cleanup     string            `json:"cleanup"`
}

// encode is the handle's stored form.
func (h Handle) encode() []byte {
	b, err := json.Marshal(h)
	if err != nil {
		panic("ssh: marshal handle: " + err.Error()) // plain fields: cannot fail
	}
	return b
}

// killGrace is the grace stored with the handle (the try's kill_grace),
// else def.
func (h Handle) killGrace(def time.Duration) time.Duration {
	if h.KillGraceMS > 0 {
		return time.Duration(h.KillGraceMS) * time.Millisecond
	}
	return def
}

// decodeHandle reads and checks a stored handle: a damaged one must not
// point a kill or an rm anywhere.
func decodeHandle(b []byte) (Handle, error) {
	kind, version, err := operator.HandleKind(b)
	if err != nil {
		return Handle{}, err
	}
	if kind != HandleKind || version != handleVersion {
		return Handle{}, fmt.Errorf("decode ssh handle: kind %q version %d, want %q version %d", kind, version, HandleKind, handleVersion)
	}
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("decode ssh handle: %w", err)
	}
	h.Version = version // a handle without one is version 1
	var errs []error
	if h.ConnID == "" || h.Host == "" || h.Port < 1 || h.Port > 65535 || h.User == "" {
		errs = append(errs, fmt.Errorf("connection %q at %s@%s:%d is incomplete", h.ConnID, h.User, h.Host, h.Port))
	}
	if !remotejob.ValidJobID(h.JobID) {
		errs = append(errs, fmt.Errorf("job id %q is not one", h.JobID))
	}
	if h.Job != nil {
		if err := h.Job.Validate(); err != nil {
			errs = append(errs, err)
		} else if h.Job.JobID != h.JobID {
			errs = append(errs, fmt.Errorf("job %s is not job id %s", h.Job.JobID, h.JobID))
		}
	}
	if h.Offsets.Stdout < 0 || h.Offsets.Stderr < 0 || h.KillGraceMS < 0 {
		errs = append(errs, errors.New("negative offsets or kill grace"))
	}
	if !slices.Contains(cleanupModes, h.Cleanup) {
		errs = append(errs, fmt.Errorf("cleanup %q is not a mode", h.Cleanup))
	}
	if err := errors.Join(errs...); err != nil {
		return Handle{}, fmt.Errorf("decode ssh handle: %w", err)
	}
	return h, nil
}
