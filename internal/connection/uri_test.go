package connection_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// TestParseAirflowExamples: URIs as Airflow's documentation and the brief
// write them parse to the fields Airflow would give.
func TestParseAirflowExamples(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want connection.Connection
	}{
		{"spark://127.0.0.1:7077?deploy_mode=cluster&spark_binary=spark-submit", connection.Connection{
			Type: "spark", Host: "127.0.0.1", Port: 7077,
			Extra: map[string]string{"deploy_mode": "cluster", "spark_binary": "spark-submit"}}},
		{"ssh://user:pass@host:22?key_file=/k", connection.Connection{
			Type: "ssh", Host: "host", Port: 22, Login: "user", Password: "pass",
			Extra: map[string]string{"key_file": "/k"}}},
		{"postgres://u:p@h:5432/db?sslmode=disable", connection.Connection{
			Type: "postgres", Host: "h", Port: 5432, Login: "u", Password: "p", Schema: "db",
			Extra: map[string]string{"sslmode": "disable"}}},
		{"my-conn-type://login:password@host:5432/schema?param1=val1&param2=val2", connection.Connection{
			Type: "my_conn_type", Host: "host", Port: 5432, Login: "login", Password: "password", Schema: "schema",
			Extra: map[string]string{"param1": "val1", "param2": "val2"}}},
		{"mysql://myname:mypassword@myhost.com?this_param=some+val&that_param=other+val%2A", connection.Connection{
			Type: "mysql", Host: "myhost.com", Login: "myname", Password: "mypassword",
			Extra: map[string]string{"this_param": "some val", "that_param": "other val*"}}},
		{"google-cloud-platform://?key_path=%2Fkeys%2Fkey.json&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform&project=airflow&num_retries=5",
			connection.Connection{Type: "google_cloud_platform", Extra: map[string]string{
				"key_path": "/keys/key.json", "scope": "https://www.googleapis.com/auth/cloud-platform",
				"project": "airflow", "num_retries": "5"}}},
		{"my-conn-type://my-login:my-password@my-host:5432/my-schema?__extra__=%7B%22my_val%22%3A+%5B%22list%22%2C+%22of%22%2C+%22values%22%5D%2C+%22extra%22%3A+%7B%22nested%22%3A+%7B%22json%22%3A+%22val%22%7D%7D%7D",
			connection.Connection{Type: "my_conn_type", Host: "my-host", Port: 5432, Login: "my-login",
				Password: "my-password", Schema: "my-schema", Extra: map[string]string{
					"my_val": `["list","of","values"]`, "extra": `{"nested":{"json":"val"}}`}}},
		{"sqlite://%2Ftmp%2Fsqlite.db", connection.Connection{Type: "sqlite", Host: "/tmp/sqlite.db"}},
		{"http://https://api.example.com:8443/v1", connection.Connection{
			Type: "http", Host: "https://api.example.com", Port: 8443, Schema: "v1"}},
		{"http://https%3A%2F%2Fexample.com", connection.Connection{Type: "http", Host: "https://example.com"}},
		{"aws://", connection.Connection{Type: "aws"}},
		{"spark://", connection.Connection{Type: "spark"}},
		{"spark://:7077", connection.Connection{Type: "spark", Port: 7077}},
		{"spark://@:7077", connection.Connection{Type: "spark", Port: 7077}},
		// Percent-decoding of login, password, host and schema.
		{"postgres://us%40er:p%40ss%3Aw%2Fo%3Frd%23@db%2Dhost:5432/my%20db", connection.Connection{
			Type: "postgres", Host: "db-host", Port: 5432, Login: "us@er", Password: "p@ss:w/o?rd#", Schema: "my db"}},
		// An unencoded '@' in the password: the last '@' ends the userinfo.
		{"ssh://user:p@ss@host", connection.Connection{Type: "ssh", Host: "host", Login: "user", Password: "p@ss"}},
		// '+' is a plus outside the query, a space inside.
		{"ssh://a+b:c+d@host?x=a+b", connection.Connection{Type: "ssh", Host: "host", Login: "a+b", Password: "c+d",
			Extra: map[string]string{"x": "a b"}}},
		{"postgres://u:p@[::1]:5432/db", connection.Connection{
			Type: "postgres", Host: "::1", Port: 5432, Login: "u", Password: "p", Schema: "db"}},
		{"ssh://user@host", connection.Connection{Type: "ssh", Host: "host", Login: "user"}},
		{"ssh://:secret@host", connection.Connection{Type: "ssh", Host: "host", Password: "secret"}},
		{"ssh://host:", connection.Connection{Type: "ssh", Host: "host"}},
		{"  ssh://host\n", connection.Connection{Type: "ssh", Host: "host"}},
		{"http://h/?flag&empty=&=v&x=1&x=2", connection.Connection{Type: "http", Host: "h",
			Extra: map[string]string{"flag": "", "empty": "", "": "v", "x": "2"}}},
		{"http://h?__extra__=", connection.Connection{Type: "http", Host: "h"}},
		// Type names as Airflow normalises them.
		{"postgresql://h", connection.Connection{Type: "postgres", Host: "h"}},
		{"SSH://h", connection.Connection{Type: "ssh", Host: "h"}},
		{"google_cloud_platform://", connection.Connection{Type: "google_cloud_platform"}},
		{"spark-k8s://h", connection.Connection{Type: "spark_k8s", Host: "h"}},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			got, err := connection.Parse(tc.uri)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", tc.uri, got, tc.want)
			}
		})
	}
}

// TestURIRoundTrip: URI writes what Parse reads back to the same fields,
// for values full of characters that mean something in a URI; a few exact
// forms are checked against Airflow's get_uri.
func TestURIRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    connection.Connection
		uri  string // exact form, when it matters
	}{
		{"spark", connection.Connection{Type: "spark", Host: "127.0.0.1", Port: 7077,
			Extra: map[string]string{"deploy_mode": "cluster", "spark_binary": "spark-submit"}},
			"spark://127.0.0.1:7077/?deploy_mode=cluster&spark_binary=spark-submit"},
		{"ssh", connection.Connection{Type: "ssh", Host: "edge", Port: 22, Login: "user", Password: "pass",
			Extra: map[string]string{"key_file": "/home/u/.ssh/id"}},
			"ssh://user:pass@edge:22/?key_file=%2Fhome%2Fu%2F.ssh%2Fid"},
		{"postgres", connection.Connection{Type: "postgres", Host: "h", Port: 5432, Login: "u", Password: "p",
			Schema: "db", Extra: map[string]string{"sslmode": "disable"}},
			"postgres://u:p@h:5432/db?sslmode=disable"},
		{"type with underscore", connection.Connection{Type: "google_cloud_platform"}, "google-cloud-platform://"},
		{"nasty password", connection.Connection{Type: "ssh", Host: "h", Login: "us:er@x",
			Password: "p@ss:w/rd?#%&=+ *é\x00"}, ""},
		{"redacted", connection.Connection{Type: "ssh", Host: "h", Login: "u", Password: "***"}, "ssh://u:***@h"},
		{"password only", connection.Connection{Type: "ssh", Host: "h", Password: "x"}, "ssh://:x@h"},
		{"host with protocol", connection.Connection{Type: "http", Host: "https://api.example.com", Port: 443},
			"http://https://api.example.com:443"},
		{"host with protocol and path", connection.Connection{Type: "http", Host: "https://h/a b", Login: "u"}, ""},
		{"host that only looks like a protocol", connection.Connection{Type: "http", Host: "a:b://c"}, ""},
		{"unix socket host", connection.Connection{Type: "postgres", Host: "/var/run/postgresql", Schema: "db"},
			"postgres://%2Fvar%2Frun%2Fpostgresql/db"},
		{"ipv6", connection.Connection{Type: "postgres", Host: "2001:db8::1", Port: 5432}, "postgres://[2001:db8::1]:5432"},
		{"ipv6 zone", connection.Connection{Type: "http", Host: "fe80::1%eth0"}, ""},
		{"port only", connection.Connection{Type: "spark", Port: 7077}, "spark://@:7077"},
		{"schema only", connection.Connection{Type: "sqlite", Schema: "/tmp/x.db"}, "sqlite:///%2Ftmp%2Fx.db"},
		{"extra only", connection.Connection{Type: "aws", Extra: map[string]string{"region_name": "eu-west-3"}},
			"aws:///?region_name=eu-west-3"},
		{"extra needing encoding", connection.Connection{Type: "http", Host: "h", Extra: map[string]string{
			"a&b": "c=d", "sp ace": "x+y z", "json": `{"k": [1, 2]}`, "unicode": "été", "": "", "empty": ""}}, ""},
		{"extra with an __extra__ key", connection.Connection{Type: "http", Host: "h",
			Extra: map[string]string{"__extra__": "x", "k": "v"}}, ""},
		{"only type", connection.Connection{Type: "aws"}, "aws://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := tc.c.URI()
			if tc.uri != "" && uri != tc.uri {
				t.Errorf("URI() = %q, want %q", uri, tc.uri)
			}
			got, err := connection.Parse(uri)
			if err != nil {
				t.Fatalf("Parse(%q): %v", uri, err)
			}
			if !reflect.DeepEqual(got, tc.c) {
				t.Errorf("round trip through %q\n got %#v\nwant %#v", uri, got, tc.c)
			}
		})
	}
}

// TestParseErrors: malformed URIs give errors that say what is wrong and
// never repeat the password.
func TestParseErrors(t *testing.T) {
	const secret = "hunter2"
	for _, tc := range []struct {
		uri, want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"localhost:5432", `missing "type://"`},
		{"://host", "missing connection type"},
		{"1spark://host", `invalid connection type "1spark"`},
		{"my conn://host", "invalid connection type"},
		{"ssh://host:22x", `port "22x" is not a number`},
		{"ssh://u:" + secret + "@host:-1", `port "-1" is not a number`},
		{"ssh://host:70000", "port 70000 is outside 0..65535"},
		{"ssh://host:99999999999999999999", "outside 0..65535"},
		{"ssh://user:" + secret + "%zz@host", "invalid percent-encoding in the password"},
		{"ssh://us%er:" + secret + "@host", "invalid percent-encoding in the login"},
		{"ssh://h%zzost", "invalid percent-encoding in the host"},
		{"postgres://h/d%b", "invalid percent-encoding in the schema"},
		{"ssh://user:" + secret + "#x@host", "percent-encode it as %23"},
		{"ssh://user:" + secret + "?x@host", "must be percent-encoded (%2F, %3F, %3A)"},
		{"ssh://user:" + secret + "/x@host", "must be percent-encoded (%2F, %3F, %3A)"},
		{"ssh://user:" + secret + "/x@host?key_file=/k", "must be percent-encoded"},
		{"postgres://[::1/db", "no closing ']'"},
		{"postgres://[::1]x/db", "only :port may follow"},
		{"http://h?__extra__=notjson", "__extra__: extra must be a JSON object"},
		{"http://h?__extra__=%5B1%5D", "__extra__: extra must be a JSON object"},
		{"http://h?__extra__=%7B%7D&a=b", "cannot be combined"},
		{"http://h?a=%zz", `query parameter "a": invalid percent-encoding in its value`},
		{"http://h?%zz=1", "invalid percent-encoding"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			c, err := connection.Parse(tc.uri)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.uri, c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error %q, want it to mention %q", tc.uri, err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Parse(%q) error %q leaks the password", tc.uri, err)
			}
		})
	}
}

// FuzzParse: Parse never panics, and whatever it accepts, URI writes back
// in a form Parse reads to the same connection (and writes identically).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"spark://127.0.0.1:7077?deploy_mode=cluster&spark_binary=spark-submit",
		"ssh://user:pass@host:22?key_file=/k",
		"postgres://u:p@h:5432/db?sslmode=disable",
		"http://https://api.example.com:8443/v1?a=b",
		"postgres://u:p@[::1]:5432/db",
		"spark://@:7077",
		"x://a%2Fb:c%3Ad@e%40f/g%2Fh?__extra__=%7B%22k%22%3A+%5B1%5D%7D",
		"ssh://user:p@ss@host",
		"a://b://c://d",
		"h://?=&&=x&y",
		"x://?__extra__=%7B%22__extra__%22%3A1%2C%22a%22%3A%5B%22%FF%22%5D%7D",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := connection.Parse(s)
		if err != nil {
			return
		}
		if err := (connection.Connection{ID: "x", Type: c.Type, Port: c.Port}).Validate(); err != nil {
			t.Fatalf("Parse(%q) gave an invalid connection: %v", s, err)
		}
		uri := c.URI()
		back, err := connection.Parse(uri)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but Parse(URI() = %q): %v", s, uri, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", s, uri, back, c)
		}
		if again := back.URI(); again != uri {
			t.Fatalf("URI not stable: %q then %q", uri, again)
		}
	})
}
