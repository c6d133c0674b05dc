package ssh

import (
	"testing"
)

// FuzzDecodeHandle: a stored handle, whatever it holds, is decoded or
// refused with an error, never a panic; what is accepted names a valid
// job (a kill or an rm cannot be pointed elsewhere) and survives a round
// trip.
func FuzzDecodeHandle(f *testing.F) {
	f.Add([]byte(`{"kind":"ssh_job","version":1,"conn_id":"edge","host":"h","port":22,"user":"u","job_id":"j","cleanup":"never","offsets":{"stdout":0,"stderr":0}}`))
	f.Add([]byte(`{"kind":"ssh_job","version":1,"conn_id":"edge","host":"h","port":22,"user":"u","job_id":"j","cleanup":"always","job":{"version":1,"job_id":"j","dir":"/x/j","pid":42,"started_at":"2026-01-01T00:00:00Z"},"offsets":{"stdout":5,"stderr":1},"kill_grace_ms":1000}`))
	f.Add([]byte(`{"kind":"ssh_job","version":1,"job":null}`))
	f.Add([]byte(`{"pid":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHandle(b)
		if err != nil {
			return
		}
		if h.Job != nil {
			if err := h.Job.Validate(); err != nil {
				t.Fatalf("accepted a handle with an invalid job: %v", err)
			}
		}
		back, err := decodeHandle(h.encode())
		if err != nil {
			t.Fatalf("re-encoded handle refused: %v", err)
		}
		if string(back.encode()) != string(h.encode()) {
			t.Fatalf("round trip changed the handle: %s vs %s", back.encode(), h.encode())
		}
	})
}
