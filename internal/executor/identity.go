package executor

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sirocco-dev/sirocco/internal/store"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

// pendingRendered holds a try's rendered fields until a write carries them.
// When the scheduler claims a try, its templates are rendered after the
// claim, so they go with the try's next write: its handle's (before the
// work is waited on, so an adopted try has them) or its outcome's.
type pendingRendered struct {
	mu sync.Mutex
	b  *[]byte
}

// take returns the fields if no write has carried them yet, else nil.
func (p *pendingRendered) take() *[]byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.b
	p.b = nil
	return b
}

// putBack returns fields whose write failed, for the next write.
func (p *pendingRendered) putBack(b *[]byte) {
	if p == nil || b == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.b == nil {
		p.b = b
	}
}

// TryID is the identity of a try that its local processes carry
// (SIROCCO_TRY_ID): made of what its claim stored (worker, task instance,
// try number), so recovery can find them from the row alone.
func TryID(workerID string, k store.TaskKey, try int) string {
	task := k.TaskID
	if k.Mapped() { // each instance of a mapped task has tries of its own
		task += "[" + strconv.Itoa(k.MapIndex()) + "]"
	}
	return workerID + "/" + k.DagID + "/" + k.RunID + "/" + task + "/" + strconv.Itoa(try)
}

// inProcess holds the worker ids of the engines running in this process.
var inProcess sync.Map

// HoldIdentity records worker id as alive in this process until the
// returned release is called (when its engine stops). Recovery takes a
// worker of this host whose pid is its own for a previous process's (a
// restarted container reuses pids) unless it is held here: so two engines
// of one process never take each other's tries for a dead worker's.
func HoldIdentity(id string) (release func()) {
	inProcess.Store(id, true)
	return func() { inProcess.Delete(id) }
}

// LiveInProcess reports whether worker id belongs to an engine running
// in this process (HoldIdentity).
func LiveInProcess(id string) bool {
	_, ok := inProcess.Load(id)
	return ok
}

// HandleNote starts the log line that records a local process's handle
// (operator.Task.NoteHandle). It is the first line Sirocco writes after
// the process starts, before any output of it can reach the log, and
// recovery trusts only that first one.
const HandleNote = "sirocco: process handle "

// NotedHandle returns the handle noted in a try's log, or nil.
func NotedHandle(logsDir string, ti store.TaskInstance) []byte {
	f, err := os.Open(tasklog.MapPath(logsDir, ti.DagID, ti.RunID, ti.TaskID, ti.MapIndex(), ti.TryNumber))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if _, h, ok := strings.Cut(sc.Text(), HandleNote); ok {
			return []byte(h)
		}
	}
	return nil
}
