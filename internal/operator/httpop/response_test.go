package httpop_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestXComValue: the return_value is the response_filter's selection, or
// the body; a string (text body, JSON string, selected string) is pushed
// as itself, any other JSON value as the value (an object stays an
// object for xcom_pull), a whole body compacted with its key order and
// digits; nothing for an empty body or do_xcom_push: false. want is the
// XCom as stored (JSON).
func TestXComValue(t *testing.T) {
	t.Parallel()
	const doc = "{\n  \"z\": 1, \"a\": {\"id\": \"x-1\", \"n\": 12345678901234567890, \"ok\": true},\n  \"items\": [1, 2]\n}"
	tests := []struct {
		name, contentType, body string
		args                    map[string]any
		want                    string
		wantErr                 string
	}{
		{name: "JSON body, compacted, key order kept", body: doc, want: `{"z":1,"a":{"id":"x-1","n":12345678901234567890,"ok":true},"items":[1,2]}`},
		{name: "JSON list body", body: "[1, {\"b\": 2}]\n", want: `[1,{"b":2}]`},
		{name: "JSON number body", body: "1.50", want: `1.50`},
		{name: "JSON body with invalid UTF-8", body: "{\"s\": \"a\xffb\"}", want: "{\"s\":\"a\ufffdb\"}"},
		{name: "text body", contentType: "text/plain", body: "hello\nworld\n", want: `"hello\nworld\n"`},
		{name: "text that starts like JSON", contentType: "text/plain", body: "{not json", want: `"{not json"`},
		{name: "JSON string body is the string", body: `"done"`, want: `"done"`},
		{name: "filter to a string", body: doc, args: map[string]any{"response_filter": "$.a.id"}, want: `"x-1"`},
		{name: "filter to an object", body: doc, args: map[string]any{"response_filter": "$.a"}, want: `{"id":"x-1","n":12345678901234567890,"ok":true}`},
		{name: "filter to a big number keeps its digits", body: doc, args: map[string]any{"response_filter": "$.a.n"}, want: `12345678901234567890`},
		{name: "filter to a boolean", body: doc, args: map[string]any{"response_filter": "$.a.ok"}, want: `true`},
		{name: "filter to several nodes is a list", body: doc, args: map[string]any{"response_filter": "$.items[*]"}, want: `[1,2]`},
		{name: "filter selects nothing", body: doc, args: map[string]any{"response_filter": "$.missing"}, wantErr: "response_filter $.missing selects nothing"},
		{name: "filter on text", body: "hello", args: map[string]any{"response_filter": "$.a"}, wantErr: "response_filter $.a: the body is not JSON"},
		{name: "empty body", body: "", want: "<none>"},
		{name: "no push", body: doc, args: map[string]any{"do_xcom_push": false}, want: "<none>"},
		{name: "HEAD has no body", body: doc, args: map[string]any{"method": "HEAD"}, want: "<none>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				io.WriteString(w, tt.body)
			})
			r := execute(context.Background(), t, tt.args, conn(srv))
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("execute: %v\n%s", r.err, r.log)
			}
			if got := r.value(); got != tt.want {
				t.Errorf("return_value = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSecretsNeverInTheLog: the password, the basic credentials, the
// token, the connection's extra headers and a task's Authorization header
// are masked everywhere in the try's log, even in a logged body that
// echoes them and in a failure message.
func TestSecretsNeverInTheLog(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"echo": r.Header, "url": r.URL.String()})
	})
	const (
		password = "pw-Zq81!x"
		apiKey   = "key-77a1c3"
		cookie   = "sess=ab12cd34"
		taskAuth = "tasktoken-5150"
	)
	uri := "http://etl:" + url.QueryEscape(password) + "@" + strings.TrimPrefix(srv.URL, "http://") +
		"/?X-Api-Key=" + apiKey + "&Cookie=" + url.QueryEscape(cookie)
	bearerURI := strings.TrimPrefix(srv.URL, "http://")
	for name, c := range map[string]struct {
		uri     string
		args    map[string]any
		secrets []string
	}{
		"basic and extra headers": {uri: uri, secrets: []string{password, apiKey, cookie, "ZXRsOnB3LVpxODEheA=="}},
		"bearer token":            {uri: "http://" + bearerURI + "/?token=tok-9f8e7d6c", secrets: []string{"tok-9f8e7d6c"}},
		"task Authorization":      {uri: "http://" + bearerURI, args: map[string]any{"headers": map[string]any{"X-Auth": "Token " + taskAuth}}, secrets: []string{taskAuth}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := map[string]any{"log_response": true, "retries_on_5xx": 1, "retry_backoff": "1ms", "endpoint": "x?note=" + url.QueryEscape(password)}
			for k, v := range c.args {
				args[k] = v
			}
			r := execute(context.Background(), t, args, map[string]string{"http_default": c.uri})
			if r.err == nil {
				t.Fatal("a 500 passed")
			}
			mustContain(t, "the log", r.log, "http: response body:", "***", "500 Internal Server Error")
			for _, s := range c.secrets {
				if strings.Contains(r.log, s) {
					t.Errorf("the log shows the secret %q:\n%s", s, r.log)
				}
			}
		})
	}
}

// TestOversizedBody: a body over max_response_bytes fails the try with
// the limit named, with or without a Content-Length, and is not retried.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", "4096")
				}
				for range 4 {
					w.Write([]byte(strings.Repeat("x", 1024)))
					w.(http.Flusher).Flush()
				}
			})
			r := execute(context.Background(), t, map[string]any{"max_response_bytes": 1000, "retries_on_5xx": 2, "log_response": true}, conn(srv))
			if r.err == nil || !strings.Contains(r.err.Error(), "over max_response_bytes 1000: raise max_response_bytes") {
				t.Fatalf("error = %v, want the limit named", r.err)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (an oversized body is not retried)", n)
			}
		})
	}
	t.Run("log_response is bounded", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, strings.Repeat("y", 100<<10)) })
		r := execute(context.Background(), t, map[string]any{"log_response": true}, conn(srv))
		if r.err != nil {
			t.Fatal(r.err)
		}
		mustContain(t, "the log", r.log, "(86016 more bytes of the body not logged)")
		if len(r.log) > 20<<10 {
			t.Errorf("the log is %d bytes", len(r.log))
		}
	})
}

// TestTLSVerify: a self-signed server fails by default (and is not
// retried); tls_verify: false, the connection's verify=false or a
// ca_bundle holding the server's certificate pass.
func TestTLSVerify(t *testing.T) {
	t.Parallel()
	srv := newTLSServer(t, nil)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	httpsURI := "https://" + strings.TrimPrefix(srv.URL, "https://")
	tests := []struct {
		name    string
		uri     string
		args    map[string]any
		wantErr string
	}{
		{name: "verified by default", uri: httpsURI, args: map[string]any{"retries_on_5xx": 3}, wantErr: "certificate"},
		{name: "tls_verify false", uri: httpsURI, args: map[string]any{"tls_verify": false}},
		{name: "connection verify=false", uri: httpsURI + "/?verify=false"},
		{name: "tls_verify true over the connection", uri: httpsURI + "/?verify=false", args: map[string]any{"tls_verify": true}, wantErr: "certificate"},
		{name: "ca_bundle", uri: httpsURI, args: map[string]any{"ca_bundle": ca}},
		{name: "connection ca_bundle", uri: httpsURI + "/?ca_bundle=" + url.QueryEscape(ca)},
		{name: "not PEM", uri: httpsURI, args: map[string]any{"ca_bundle": "/dev/null"}, wantErr: "ca_bundle /dev/null: no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := execute(context.Background(), t, tt.args, map[string]string{"http_default": tt.uri})
			if tt.wantErr == "" {
				if r.err != nil {
					t.Fatalf("execute: %v\n%s", r.err, r.log)
				}
				if insecure := strings.Contains(tt.name, "false"); insecure != strings.Contains(r.log, "WARNING: the server's TLS certificate is not verified") {
					t.Errorf("warning logged: want %v:\n%s", insecure, r.log)
				}
				return
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", r.err, tt.wantErr)
			}
			if strings.Contains(r.log, "attempt 2") {
				t.Errorf("a certificate failure was retried:\n%s", r.log)
			}
		})
	}
}

// TestRedirects: redirects on the same host are followed; to another
// host only with allow_cross_host_redirects, and without the
// connection's credentials and headers; allow_redirects: false keeps the
// 3xx, which the default check refuses.
func TestRedirects(t *testing.T) {
	t.Parallel()
	other := newServer(t, nil)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			io.WriteString(w, `{"at": "`+r.URL.Path+`"}`)
		}
	})
	uri := "http://etl:pw-redirect@" + strings.TrimPrefix(srv.URL, "http://") + "/?X-Api-Key=key-redirect"
	tests := []struct {
		name    string
		args    map[string]any
		want    string
		wantErr string
	}{
		{name: "same host", args: map[string]any{"endpoint": "old", "response_filter": "$.at"}, want: `"/new"`},
		{name: "no redirects", args: map[string]any{"endpoint": "old", "allow_redirects": false}, wantErr: "status 302 is not one of 2xx"},
		{name: "cross host refused", args: map[string]any{"endpoint": "away"}, wantErr: "redirect refused: to " + other.URL + ", another host"},
		{name: "loop", args: map[string]any{"endpoint": "loop", "retries_on_5xx": 2}, wantErr: "too many redirects"},
		{name: "cross host allowed", args: map[string]any{"endpoint": "away", "allow_cross_host_redirects": true}, want: `{"ok":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execute(context.Background(), t, tt.args, map[string]string{"http_default": uri})
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("execute: %v\n%s", r.err, r.log)
			}
			if got := r.value(); got != tt.want {
				t.Errorf("return_value = %q, want %q", got, tt.want)
			}
		})
	}
	got := other.last(t)
	if got.Header.Get("Authorization") != "" || got.Header.Get("X-Api-Key") != "" {
		t.Errorf("the other host got the connection's credentials: %v", got.Header)
	}
	if !reflect.DeepEqual(got.Path, "/landing") {
		t.Errorf("the other host got %s", got.Path)
	}
}
