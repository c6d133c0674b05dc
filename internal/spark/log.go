package spark

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// The two logs a worker keeps for each driver, DriverLog's logType.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// maxLogChunk is how many bytes DriverLog asks a worker for at once.
const maxLogChunk = 1 << 20

// logHeader is the first line of the worker's /log/ answers:
// "==== Bytes 0-99 of 99 of /work/driver-…/stdout ====".
var logHeader = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^==== Bytes (\d+)-(\d+) of (\d+) of .* ====\n`) })

// DriverLog reads the next chunk (up to 1 MiB) of driver driverID's stdout
// or stderr (logType Stdout or Stderr) from the web UI of its worker
// (workerWebUI, from WorkerWebUI), starting at byte offset. It returns the
// bytes, the offset to ask for next and the log's current size, so a
// caller tails a running driver by calling again from next, and has read
// everything once next reaches total after the driver has ended. The worker
// serves the log as UTF-8 text: invalid bytes, and a character split by a
// chunk's edge, arrive as U+FFFD. A worker
// that has no such log (wrong worker, or the driver's directory cleaned up)
// gives an error wrapping ErrNotFound.
func (c *Client) DriverLog(ctx context.Context, workerWebUI, driverID, logType string, offset int64) (data []byte, next, total int64, err error) {
	if logType != Stdout && logType != Stderr {
		return nil, 0, 0, fmt.Errorf("spark: driver log: logType %q is neither %q nor %q", logType, Stdout, Stderr)
	}
	if offset < 0 {
		offset = 0
	}
	q := url.Values{
		"driverId":   {driverID},
		"logType":    {logType},
		"offset":     {strconv.FormatInt(offset, 10)},
		"byteLength": {strconv.Itoa(maxLogChunk)},
	}
	u := strings.TrimRight(workerWebUI, "/") + "/log/?" + q.Encode()
	op := fmt.Sprintf("%s of %s", logType, driverID)
	status, raw, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("spark: %s: %w", op, err)
	}
	if status != http.StatusOK {
		return nil, 0, 0, httpError(op, u, status, raw)
	}
	m := logHeader().FindSubmatch(raw)
	if m == nil {
		return nil, 0, 0, &Error{Op: op, URL: u, StatusCode: status, Message: "unexpected answer: " + snippet(raw)}
	}
	end, _ := strconv.ParseInt(string(m[2]), 10, 64)
	total, _ = strconv.ParseInt(string(m[3]), 10, 64)
	body := raw[len(m[0]):]
	// A missing log reads as an empty one followed by the worker's error
	// text ("Error: invalid log directory …").
	if total == 0 && bytes.HasPrefix(body, []byte("Error: ")) {
		return nil, 0, 0, &Error{Op: op, URL: u, StatusCode: status, Message: snippet(body), Err: ErrNotFound}
	}
	// The worker decodes the bytes as UTF-8 before sending them, so the
	// body can differ in length from the range announced where a character is
	// split by the chunk's edges or the log is not UTF-8; the header's
	// offsets stay right.
	return body, end, total, nil
}
