package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Step is one step of a report: what was checked, how it ended, what it
// found or why it failed, and how long it took.
type Step struct {
	Name     string        `json:"name"`
	Target   string        `json:"target,omitempty"`
	Outcome  Outcome       `json:"outcome"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"-"`
}

// MarshalJSON adds the duration in milliseconds, which a JSON reader can
// use without knowing Go's duration format.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}{plain(s), float64(s.Duration.Microseconds()) / 1000})
}

// Report is the outcome of checking one connection, for people (Text,
// WriteText) and programs (JSON, with the API's snake_case names).
type Report struct {
	ConnID   string    `json:"conn_id"`
	ConnType string    `json:"conn_type,omitempty"`
	Source   string    `json:"source,omitempty"` // where the connection came from: env, db
	Started  time.Time `json:"started"`
	Steps    []Step    `json:"steps"`
}

// OK reports whether no step failed.
func (r Report) OK() bool { return r.Failure() == nil }

// Failure returns the first failed step, or nil.
func (r Report) Failure() *Step {
	for i := range r.Steps {
		if r.Steps[i].Outcome == Failed {
			return &r.Steps[i]
		}
	}
	return nil
}

// MarshalJSON adds the overall result (ok) to the report.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		OK bool `json:"ok"`
	}{plain(r), r.OK()})
}

// Summary is the report's last line: "ok (4 steps in 12ms)" or
// "FAILED at tcp: dial tcp ...: connection refused".
func (r Report) Summary() string {
	if f := r.Failure(); f != nil {
		return fmt.Sprintf("FAILED at %s: %s", f.Name, f.Detail)
	}
	var total time.Duration
	for _, s := range r.Steps {
		total += s.Duration
	}
	return fmt.Sprintf("ok (%d step(s) in %s)", len(r.Steps), roundDuration(total))
}

// WriteText writes the report as aligned lines:
//
//	Connection spark_cluster (spark, from env)
//	  ok      dns         0s     127.0.0.1       an IP address, nothing to resolve
//	  ok      tcp         310µs  127.0.0.1:7077  connected to 127.0.0.1:7077
//	  FAILED  spark rest  2ms    http://...      spark: server version: ...
//	  Result: FAILED at spark rest: ...
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("Connection " + r.ConnID)
	var about []string
	if r.ConnType != "" {
		about = append(about, r.ConnType)
	}
	if r.Source != "" {
		about = append(about, "from "+r.Source)
	}
	if len(about) > 0 {
		b.WriteString(" (" + strings.Join(about, ", ") + ")")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, s := range r.Steps {
		outcome := string(s.Outcome)
		if s.Outcome == Failed {
			outcome = "FAILED"
		}
		target := s.Target
		if target == "" {
			target = "-"
		}
		took := ""
		if s.Outcome != Skipped {
			took = roundDuration(s.Duration).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", outcome, s.Name, took, target, oneLine(s.Detail))
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	b.WriteString("  Result: " + oneLine(r.Summary()) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Text is WriteText's output as a string.
func (r Report) Text() string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

// oneLine keeps a detail on its line: tabs and newlines would break the
// columns.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
