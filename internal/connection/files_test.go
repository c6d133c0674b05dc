package connection_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		path, flag string
		want       connection.FileFormat
	}{
		{"a.json", "", connection.FormatJSON},
		{"a.JSON", "", connection.FormatJSON},
		{"a.yaml", "", connection.FormatYAML},
		{"a.yml", "", connection.FormatYAML},
		{"a.env", "", connection.FormatEnv},
		{"-", "yaml", connection.FormatYAML},
		{"a.txt", "json", connection.FormatJSON},
	} {
		if got, err := connection.FormatOf(tc.path, tc.flag); err != nil || got != tc.want {
			t.Errorf("FormatOf(%q, %q) = %q, %v; want %q", tc.path, tc.flag, got, err, tc.want)
		}
	}
	for _, bad := range [][2]string{{"a.txt", ""}, {"-", ""}, {"a.json", "xml"}} {
		if _, err := connection.FormatOf(bad[0], bad[1]); err == nil {
			t.Errorf("FormatOf(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

var fileConns = []connection.Connection{
	{ID: "edge", Type: "ssh", Host: "edge", Port: 22, Login: "spark", Password: "p@ss:w/rd",
		Extra: map[string]string{"key_file": "/k"}, Description: "edge node"},
	{ID: "spark_default", Type: "spark", Host: "127.0.0.1", Port: 7077,
		Extra: map[string]string{"deploy_mode": "cluster", "conf": `{"a":1}`}},
	{ID: "warehouse", Type: "postgres", Host: "db", Port: 5432, Login: "u", Password: "p", Schema: "w"},
}

// TestFileRoundTrip: what EncodeFile writes, DecodeFile reads back, in
// every format.
func TestFileRoundTrip(t *testing.T) {
	for _, f := range []connection.FileFormat{connection.FormatJSON, connection.FormatYAML, connection.FormatEnv} {
		t.Run(string(f), func(t *testing.T) {
			data, err := connection.EncodeFile(fileConns, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := connection.DecodeFile(data, f)
			if err != nil {
				t.Fatalf("DecodeFile of\n%s\n: %v", data, err)
			}
			if !reflect.DeepEqual(got, fileConns) {
				t.Errorf("round trip through\n%s\n got %#v\nwant %#v", data, got, fileConns)
			}
		})
	}
}

// TestDecodeFile: Airflow's import files: a URI or an object of fields per
// id, in JSON, YAML or env form.
func TestDecodeFile(t *testing.T) {
	want := []connection.Connection{
		{ID: "edge", Type: "ssh", Host: "edge", Port: 22, Login: "spark", Extra: map[string]string{"key_file": "/k"}},
		{ID: "spark_default", Type: "spark", Host: "m", Port: 7077, Extra: map[string]string{"deploy_mode": "cluster"}},
	}
	for _, tc := range []struct {
		name string
		f    connection.FileFormat
		data string
	}{
		{"json", connection.FormatJSON, `{
			"spark_default": "spark://m:7077?deploy_mode=cluster",
			"edge": {"conn_type": "ssh", "host": "edge", "port": 22, "login": "spark", "extra": "{\"key_file\": \"/k\"}"}
		}`},
		{"yaml", connection.FormatYAML, `
spark_default: spark://m:7077?deploy_mode=cluster
edge:
  conn_type: ssh
  host: edge
  port: 22
  login: spark
  extra: {key_file: /k}
`},
		{"env", connection.FormatEnv, `
# comment
spark_default=spark://m:7077?deploy_mode=cluster
edge={"conn_type": "ssh", "host": "edge", "port": 22, "login": "spark", "extra": {"key_file": "/k"}}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := connection.DecodeFile([]byte(tc.data), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeFile\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestDecodeFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    connection.FileFormat
		data string
		want string
	}{
		{"json list", connection.FormatJSON, `["ssh://h"]`, "expected an object"},
		{"yaml list", connection.FormatYAML, `- ssh://h`, "expected a mapping"},
		{"yaml duplicate", connection.FormatYAML, "a: ssh://h\na: ssh://i\n", "already defined"},
		{"bad id", connection.FormatJSON, `{"a b": "ssh://h"}`, `connection id "a b"`},
		{"bad uri", connection.FormatJSON, `{"a": "nope"}`, `connection a: connection uri: missing "type://"`},
		{"bad value", connection.FormatYAML, `a: 12`, "connection a: expected a URI string or an object"},
		{"unknown field", connection.FormatYAML, "a: {conn_type: ssh, prot: 1}", `connection a: unknown field "prot"`},
		{"unquoted numeric password", connection.FormatYAML, "a: {conn_type: ssh, password: 0123}", "password must be a string"},
		{"env without =", connection.FormatEnv, "\nspark://h\n", "line 2: expected ID=URI"},
		{"env duplicate", connection.FormatEnv, "a=ssh://h\na=ssh://i\n", "line 2: connection a is already defined on line 1"},
		{"env bad id", connection.FormatEnv, "a b=ssh://h\n", "line 1: connection id"},
		{"env bad uri", connection.FormatEnv, "a=ssh://h:x\n", "line 1: connection a: connection uri: port \"x\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := connection.DecodeFile([]byte(tc.data), tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeFile = %+v, %v; want an error mentioning %q", got, err, tc.want)
			}
		})
	}
	if got, err := connection.DecodeFile(nil, connection.FormatYAML); err != nil || len(got) != 0 {
		t.Errorf("DecodeFile of an empty file = %v, %v", got, err)
	}
}
