package tasklog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Path returns the log file of one try under the logs folder:
// base/dag_id=D/run_id=R/task_id=T/attempt=N.log. Each id becomes one folder
// name through component, so distinct ids always get distinct files and no
// id can leave base.
func Path(base, dagID, runID, taskID string, try int) string {
	return filepath.Join(base, component("dag_id=", dagID), component("run_id=", runID),
		component("task_id=", taskID), fmt.Sprintf("attempt=%d.log", try))
}

// MapPath is Path for one instance of a mapped task: its tries' logs are
// in a map_index=N folder of the task's log folder, as Airflow's. A map
// index below 0 (a task that is not mapped) gives Path.
func MapPath(base, dagID, runID, taskID string, mapIndex, try int) string {
	if mapIndex < 0 {
		return Path(base, dagID, runID, taskID, try)
	}
	return filepath.Join(base, component("dag_id=", dagID), component("run_id=", runID),
		component("task_id=", taskID), fmt.Sprintf("map_index=%d", mapIndex), fmt.Sprintf("attempt=%d.log", try))
}

// maxName is the longest file name Linux and macOS file systems accept
// (NAME_MAX, in bytes).
const maxName = 255

// hashMark starts the digest of a name too long for the file system. The
// escaping never writes '%' followed by 'h', so a shortened name cannot
// equal any name left whole.
const hashMark = "%h"

// component is prefix+id as one folder name. It is injective in id:
//
//   - '%', '/' and NUL are percent-escaped ("%25", "%2F", "%00"), and
//     nothing else is touched, so the ids sirocco generates and every id
//     the API accepts (letters, digits, "_.~:+-") keep the names they
//     always had;
//   - a name longer than maxName keeps its first bytes and ends with
//     hashMark and the SHA-256 of the whole id, which tells apart any two
//     ids that differ.
//
// The prefix keeps the name from ever being "." or "..".
func component(prefix, id string) string {
	name := prefix + escape(id)
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(id))
	digest := hashMark + hex.EncodeToString(sum[:])
	return cut(name, maxName-len(digest)) + digest
}

// escape percent-escapes the bytes a folder name cannot hold ('/' and NUL)
// and the escape character itself.
func escape(id string) string {
	if !strings.ContainsAny(id, "%/\x00") {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 8)
	for i := 0; i < len(id); i++ {
		switch c := id[i]; c {
		case '%', '/', 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cut shortens an escaped name to at most n bytes without splitting an
// escape or a UTF-8 character, so the name stays readable.
func cut(name string, n int) string {
	end := 0
	for end < len(name) {
		size := 3 // every '%' in an escaped name starts an escape
		if name[end] != '%' {
			_, size = utf8.DecodeRuneInString(name[end:])
		}
		if end+size > n {
			break
		}
		end += size
	}
	return name[:end]
}
