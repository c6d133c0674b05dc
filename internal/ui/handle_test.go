package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/executor"
)

// TestDescribeHandle: each operator's handle reads as the ids a user looks
// for, links only to http(s), and anything unreadable is shown, not fatal.
func TestDescribeHandle(t *testing.T) {
	cases := []struct {
		name, raw, kind string
		want            []string // "Label=Value" or "Label=Value -> href"
	}{
		{"process", `{"kind":"process","host":"h1","pid":4242,"pgid":4242,"start_time":1}`, "process",
			[]string{"Process id=4242", "Host=h1"}},
		{"spark standalone cluster", `{"kind":"spark_driver","version":4,"conn_id":"spark","master":"spark://m:7077","master_ui":"http://m:8080",
			"deploy_mode":"cluster","driver_id":"driver-1","app_id":"app-1","spark_ui":"https://d:4040"}`, "spark_driver",
			[]string{"Spark master=spark://m:7077 -> http://m:8080", "Deploy mode=cluster", "Spark driver=driver-1 -> http://m:8080/driver/?id=driver-1",
				"Spark application=app-1 -> https://d:4040", "Connection=spark"}},
		{"spark-submit over ssh", `{"kind":"spark_submit","version":4,"ssh":{"ssh_conn_id":"edge","host":"u@e:22","job_id":"j1"},"app_id":"application_1_2"}`,
			"spark_submit", []string{"Spark application=application_1_2", "Remote host=u@e:22", "Remote job=j1", "SSH connection=edge"}},
		{"spark on kubernetes", `{"kind":"spark_driver","driver_pod":"p-driver","k8s":{"namespace":"ns","name":"p-driver","end":{"exit_code":1,"reason":"Error"}}}`,
			"spark_driver", []string{"Driver pod=p-driver", "Pod=ns/p-driver", "Exit code=1", "Reason=Error"}},
		{"kubernetes pod", `{"kind":"kubernetes_pod","namespace":"default","name":"t-1","uid":"u-1"}`, "kubernetes_pod",
			[]string{"Pod=default/t-1", "Pod uid=u-1"}},
		{"ssh job", `{"kind":"ssh_job","host":"edge","port":2222,"user":"me","job_id":"abc","job":{"pid":9}}`, "ssh_job",
			[]string{"Remote host=me@edge:2222", "Remote job=abc"}},
		{"links only to the web", `{"kind":"spark_driver","driver_id":"d","master_ui":"javascript:alert(1)","spark_ui":"file:///etc/passwd","app_id":"a"}`,
			"spark_driver", []string{"Spark master UI=javascript:alert(1)", "Spark driver=d", "Spark application=a"}},
		{"not JSON", `\x00garbage`, "unreadable", []string{`Stored handle=\x00garbage`}},
		{"empty", ``, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := describeHandle([]byte(c.raw))
			var got []string
			for _, f := range v.Fields {
				s := f.Label + "=" + f.Value
				if f.Href != "" {
					s += " -> " + f.Href
				}
				got = append(got, s)
			}
			if v.Kind != c.kind || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("kind %q, fields:\n%s\nwant kind %q:\n%s", v.Kind, strings.Join(got, "\n"), c.kind, strings.Join(c.want, "\n"))
			}
		})
	}
}

// FuzzDescribeHandle: any stored bytes give a view (no panic) whose values
// are valid UTF-8 and bounded, and whose links are all http or https.
func FuzzDescribeHandle(f *testing.F) {
	f.Add([]byte(`{"kind":"spark_driver","master_ui":"http://m:8080","driver_id":"d","spark_ui":"http://x"}`))
	f.Add([]byte(`{"kind":"ssh_job","host":"h","port":1e300,"user":"u"}`))
	f.Add([]byte(`{"k8s":{"end":{"exit_code":-1.5}},"process":{"pid":"x"}}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := describeHandle(raw)
		if v.Fields == nil {
			t.Fatal("nil fields (the page expects a list)")
		}
		for _, fl := range v.Fields {
			if !utf8.ValidString(fl.Value) || len(fl.Value) > maxHandleValue+len("…") {
				t.Fatalf("value %q", fl.Value)
			}
			if fl.Href != "" && !strings.HasPrefix(fl.Href, "http://") && !strings.HasPrefix(fl.Href, "https://") {
				t.Fatalf("link %q", fl.Href)
			}
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSummarizeLog: a try's times come from its first and last lines and
// its state from the runner's last word.
func TestSummarizeLog(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	cases := []struct {
		name, log  string
		start, end string
		outcome    string
	}{
		{"failed", "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n[2026-01-01T00:00:01.000Z] out\n[2026-01-01T00:00:02.500Z] sirocco: task failed: exit status 1\n",
			"2026-01-01T00:00:00Z", "2026-01-01T00:00:02.5Z", "failed"},
		{"succeeded then more lines", "[2026-01-01T00:00:00.000Z] a\n[2026-01-01T00:00:03.000Z] sirocco: task succeeded\n[2026-01-01T00:00:04.000Z] sirocco: push return_value: x\n",
			"2026-01-01T00:00:00Z", "2026-01-01T00:00:04Z", "success"},
		{"stopped by shutdown", "[2026-01-01T00:00:00.000+02:00] x\n[2026-01-01T00:00:09.000+02:00] try 1 of t stopped by shutdown; it runs again\n",
			"2025-12-31T22:00:00Z", "2025-12-31T22:00:09Z", "stopped"},
		{"no outcome, partial last line", "[2026-01-01T00:00:00.000Z] x\n[2026-01-01T00:00:01.000Z] y\npartial", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", ""},
		{"foreign text", "hello\nworld\n", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := summarizeLog([]byte(c.log), []byte(c.log))
			if !s.Start.Equal(at(c.start)) || !s.End.Equal(at(c.end)) || s.Outcome != c.outcome {
				t.Errorf("got %v %v %q, want %s %s %q", s.Start, s.End, s.Outcome, c.start, c.end, c.outcome)
			}
		})
	}
}

// FuzzSummarizeLog: any head and tail give a summary (no panic) whose end
// is never before its start.
func FuzzSummarizeLog(f *testing.F) {
	f.Add([]byte("[2026-01-01T00:00:00.000Z] sirocco: starting\n"), []byte("[2026-01-01T00:00:02.000Z] sirocco: task failed: x\n"))
	f.Add([]byte("[2026-01-01T00:00:09.000Z] a\n"), []byte("[2026-01-01T00:00:01.000Z] sirocco: task succeeded\n"))
	f.Add([]byte("[9999-12-31T23:59:59.999-23:59] x"), []byte("[0000-01-01T00:00:00.000+23:59] y\n"))
	f.Add([]byte(""), []byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, head, tail []byte) {
		s := summarizeLog(head, tail)
		if !s.Start.IsZero() && !s.End.IsZero() && s.End.Before(s.Start) {
			t.Fatalf("end %v before start %v", s.End, s.Start)
		}
		switch s.Outcome {
		case "", "success", "failed", "skipped", "stopped":
		default:
			t.Fatalf("outcome %q", s.Outcome)
		}
	})
}

// TestHandleNoteMarker: the UI finds the note the runner writes.
func TestHandleNoteMarker(t *testing.T) {
	if handleNote != executor.HandleNote {
		t.Fatalf("ui looks for %q, the runner writes %q", handleNote, executor.HandleNote)
	}
}

// TestFindNote: the first complete note after a timestamp is the handle;
// an untimestamped line, a note cut short or none at all gives nil.
func TestFindNote(t *testing.T) {
	cases := []struct{ name, head, want string }{
		{"noted", "[2026-01-01T00:00:00.000Z] sirocco: starting try 1\n[2026-01-01T00:00:00.010Z] sirocco: process handle {\"kind\":\"process\",\"pid\":7}\n",
			`{"kind":"process","pid":7}`},
		{"first wins", "[2026-01-01T00:00:00.000Z] sirocco: process handle {\"pid\":1}\n[2026-01-01T00:00:00.000Z] sirocco: process handle {\"pid\":2}\n", `{"pid":1}`},
		{"no stamp", "sirocco: process handle {\"pid\":1}\n", ""},
		{"cut short", "[2026-01-01T00:00:00.000Z] sirocco: process handle {\"pid\":", ""},
		{"none", "[2026-01-01T00:00:00.000Z] hello\n", ""},
	}
	for _, c := range cases {
		if got := string(findNote([]byte(c.head))); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// FuzzFindNote: any log head gives nil or valid JSON, never a panic.
func FuzzFindNote(f *testing.F) {
	f.Add([]byte("[2026-01-01T00:00:00.010Z] sirocco: process handle {\"kind\":\"process\",\"pid\":7}\n"))
	f.Add([]byte("[2026-01-01T00:00:00.010Z] sirocco: process handle {\"pid\":"))
	f.Add([]byte("sirocco: process handle {}\n[x] sirocco: process handle []"))
	f.Fuzz(func(t *testing.T, head []byte) {
		if h := findNote(head); h != nil && !json.Valid(h) {
			t.Fatalf("note %q is not JSON", h)
		}
	})
}
