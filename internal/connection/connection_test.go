package connection_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

func TestNormalizeType(t *testing.T) {
	for in, want := range map[string]string{
		"spark": "spark", "SSH": "ssh", "postgresql": "postgres", "PostgreSQL": "postgres", "postgres": "postgres",
		"google-cloud-platform": "google_cloud_platform", "google_cloud_platform": "google_cloud_platform",
		" http ": "http", "spark-k8s": "spark_k8s",
	} {
		if got := connection.NormalizeType(in); got != want {
			t.Errorf("NormalizeType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := connection.Connection{ID: "spark_default", Type: "spark", Port: 7077}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v): %v", ok, err)
	}
	for _, tc := range []struct {
		name string
		edit func(*connection.Connection)
		want string
	}{
		{"empty id", func(c *connection.Connection) { c.ID = "" }, "id is empty"},
		{"space in id", func(c *connection.Connection) { c.ID = "a b" }, "may only contain"},
		{"slash in id", func(c *connection.Connection) { c.ID = "a/b" }, "may only contain"},
		{"long id", func(c *connection.Connection) { c.ID = strings.Repeat("a", 251) }, "longer than 250"},
		{"no type", func(c *connection.Connection) { c.Type = "" }, "conn_type is required"},
		{"unnormalised type", func(c *connection.Connection) { c.Type = "google-cloud" }, "must be lower case"},
		{"bad type", func(c *connection.Connection) { c.Type = "my type" }, "must be lower case"},
		{"negative port", func(c *connection.Connection) { c.Port = -1 }, "outside 0..65535"},
		{"big port", func(c *connection.Connection) { c.Port = 65536 }, "outside 0..65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	for _, id := range []string{"a", "spark.prod-1", "A_B", strings.Repeat("x", 250)} {
		c := ok
		c.ID = id
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(id %q): %v", id, err)
		}
	}
}

func TestIsSensitive(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "PASSWORD": true, "db_password": true, "passwd": true, "secret": true,
		"client_secret": true, "token": true, "access_token": true, "api_key": true, "apikey": true,
		"private_key": true, "ssh_private_key": true, "passphrase": true, "authorization": true,
		"keyfile_dict": true, "service_account": true, "private-key": true, "Private-Key": true, "api-key": true,
		"key_file": false, "keytab": false, "principal": false, "deploy_mode": false, "host": false,
		"region_name": false, "spark_binary": false,
	} {
		if got := connection.IsSensitive(key); got != want {
			t.Errorf("IsSensitive(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestRedacted: the password and sensitive extras become "***", nested
// sensitive JSON keys too; everything else, and the original, is unchanged.
func TestRedacted(t *testing.T) {
	c := connection.Connection{ID: "x", Type: "spark", Host: "h", Login: "u", Password: "hunter2", Extra: map[string]string{
		"deploy_mode": "cluster", "key_file": "/k", "api_key": "AKIA123", "client_secret": "s3cr3t",
		"empty_token": "", "auth": `{"user": "u", "token": "t0k", "n": [{"private_key": "pk"}]}`,
		"not_json": "{broken",
	}}
	orig := c
	orig.Extra = map[string]string{}
	for k, v := range c.Extra {
		orig.Extra[k] = v
	}
	got := c.Redacted()
	want := connection.Connection{ID: "x", Type: "spark", Host: "h", Login: "u", Password: "***", Extra: map[string]string{
		"deploy_mode": "cluster", "key_file": "/k", "api_key": "***", "client_secret": "***", "empty_token": "",
		"auth": `{"n":[{"private_key":"***"}],"token":"***","user":"u"}`, "not_json": "{broken",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redacted()\n got %#v\nwant %#v", got, want)
	}
	if !reflect.DeepEqual(c, orig) {
		t.Errorf("Redacted changed its receiver: %#v", c)
	}
	if r := (connection.Connection{Type: "ssh"}).Redacted(); r.Password != "" || r.Extra != nil {
		t.Errorf("Redacted of a connection without secrets = %#v", r)
	}
}

// TestSecrets: what a task log must mask, including the encoded forms of
// the password that appear in URIs.
func TestSecrets(t *testing.T) {
	c := connection.Connection{Type: "http", Password: "p@ss word", Extra: map[string]string{
		"token": "t0k3n", "region": "eu", "keyfile_dict": `{"private_key": "-----BEGIN", "n": 12}`,
		"auth": `{"secret": "nested-s3cret"}`,
	}}
	want := []string{
		`{"private_key": "-----BEGIN", "n": 12}`, "-----BEGIN", "12", "nested-s3cret",
		"p%40ss+word", "p%40ss%20word", "p@ss word", "t0k3n",
	}
	slices.Sort(want)
	if got := c.Secrets(); !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets()\n got %q\nwant %q", got, want)
	}
	if got := (connection.Connection{Type: "ssh", Login: "u"}).Secrets(); len(got) != 0 {
		t.Errorf("Secrets of a connection without secrets = %q", got)
	}
}

// TestFromJSON: Airflow's JSON form, as AIRFLOW_CONN_* and from_json take it.
func TestFromJSON(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       connection.Connection
		err        string
	}{
		{"full", `{"conn_type": "my-conn-type", "login": "my-login", "password": "my-password", "host": "my-host",
			"port": 1234, "schema": "my-schema", "description": "d", "extra": {"param1": "val1", "n": 2, "o": {"a": true}}}`,
			connection.Connection{ID: "c", Type: "my_conn_type", Login: "my-login", Password: "my-password",
				Host: "my-host", Port: 1234, Schema: "my-schema", Description: "d",
				Extra: map[string]string{"param1": "val1", "n": "2", "o": `{"a":true}`}}, ""},
		{"extra as a JSON string", `{"conn_type": "ssh", "extra": "{\"key_file\": \"/k\"}", "port": "22"}`,
			connection.Connection{ID: "c", Type: "ssh", Port: 22, Extra: map[string]string{"key_file": "/k"}}, ""},
		{"extra_dejson", `{"conn_type": "ssh", "extra_dejson": {"a": "b"}, "conn_id": "c"}`,
			connection.Connection{ID: "c", Type: "ssh", Extra: map[string]string{"a": "b"}}, ""},
		{"uri", `{"uri": "ssh://u@h:22", "description": "edge"}`,
			connection.Connection{ID: "c", Type: "ssh", Host: "h", Port: 22, Login: "u", Description: "edge"}, ""},
		{"nulls", `{"conn_type": "ssh", "host": null, "port": null, "extra": null}`,
			connection.Connection{ID: "c", Type: "ssh"}, ""},
		{"no type", `{"host": "h"}`, connection.Connection{}, "conn_type is required"},
		{"unknown field", `{"conn_type": "ssh", "hots": "h"}`, connection.Connection{}, `unknown field "hots"`},
		{"numeric password", `{"conn_type": "ssh", "password": 1234}`, connection.Connection{}, "password must be a string"},
		{"bad port", `{"conn_type": "ssh", "port": "ssh"}`, connection.Connection{}, `port "ssh" is not an integer`},
		{"port range", `{"conn_type": "ssh", "port": 65536}`, connection.Connection{}, "outside 0..65535"},
		{"fractional port", `{"conn_type": "ssh", "port": 22.5}`, connection.Connection{}, "not an integer"},
		{"extra list", `{"conn_type": "ssh", "extra": [1]}`, connection.Connection{}, "extra must be an object"},
		{"extra bad string", `{"conn_type": "ssh", "extra": "nope"}`, connection.Connection{}, "extra must be a JSON object"},
		{"both extras", `{"conn_type": "ssh", "extra": {}, "extra_dejson": {}}`, connection.Connection{}, "not both"},
		{"uri with fields", `{"uri": "ssh://h", "host": "x"}`, connection.Connection{}, "uri cannot be combined with host"},
		{"other conn_id", `{"conn_type": "ssh", "conn_id": "d"}`, connection.Connection{}, "does not match"},
		{"not an object", `"ssh://h"`, connection.Connection{}, "JSON"},
		{"trailing text", `{"conn_type": "ssh"} x`, connection.Connection{}, "text after the object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := connection.FromJSON("c", []byte(tc.json))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("FromJSON = %+v, %v; want an error mentioning %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromJSON\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
