package tasklog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaskerHidesEncodedForms: a secret is masked in the forms programs
// print it in, not only as it was given, as Airflow's masker with its
// adapters does.
func TestMaskerHidesEncodedForms(t *testing.T) {
	t.Parallel()
	const secret = `s3cr3t/p@ss w0rd+"é"`
	pyJSON := `s3cr3t/p@ss w0rd+\"\u00e9\"`
	basic := base64.StdEncoding.EncodeToString([]byte("admin:" + secret)) // the secret at an offset
	tests := []struct{ name, line string }{
		{"plain", "password is " + secret},
		{"query-encoded", "GET /login?pw=" + url.QueryEscape(secret)},
		{"path-encoded", "postgres://u:" + url.PathEscape(secret) + "@db/x"},
		{"JSON", `{"password": ` + mustJSON(secret) + `}`},
		{"JSON from Python", `{"password": "` + pyJSON + `"}`},
		{"base64", "token: " + base64.StdEncoding.EncodeToString([]byte(secret))},
		{"base64url", "token: " + base64.RawURLEncoding.EncodeToString([]byte(secret))},
		{"base64 at an offset (Basic auth)", "Authorization: Basic " + basic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			m := NewMasked(&out)
			m.AddSecret(secret)
			if _, err := m.Write([]byte(tt.line + "\n")); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if !strings.Contains(got, Masked) {
				t.Errorf("nothing masked in %q", got)
			}
			for _, leak := range []string{"s3cr3t", "w0rd", "czNjcjN0L3BAc3", "ZDNjcjN0", "p%40ss"} {
				if strings.Contains(got, leak) {
					t.Errorf("%q shows %q", got, leak)
				}
			}
			if tt.name == "base64 at an offset (Basic auth)" && !strings.HasPrefix(got, "Authorization: Basic YWRtaW46") {
				t.Errorf("%q: the user part of the header should stay readable", got)
			}
		})
	}
}

// TestMaskerMultiLineSecret: a private key is masked line by line, since a
// log is masked a line at a time.
func TestMaskerMultiLineSecret(t *testing.T) {
	t.Parallel()
	key := "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----\n"
	s := &Secrets{}
	s.Add(key)
	got := s.Mask("loaded:\n" + strings.ReplaceAll(key, "\n", "\r\n"))
	for _, line := range []string{"MIIEvQIBADANBgkqhkiG9w0B", "AQEFAASCBKcwggSjAgEAAoIB", "BEGIN KEY"} {
		if strings.Contains(got, line) {
			t.Errorf("%q shows the key line %q", got, line)
		}
	}
}

// TestMaskerOverlappingAndStarredSecrets: overlapping secrets are hidden
// together, and a secret holding "*" that a replacement would bring back
// is masked too, in bounded time.
func TestMaskerOverlappingAndStarredSecrets(t *testing.T) {
	t.Parallel()
	s := &Secrets{}
	s.Add("abcdef")
	s.Add("defghi")
	if got := s.Mask("x abcdefghi y"); got != "x *** y" {
		t.Errorf("overlapping: %q", got)
	}
	star := &Secrets{}
	star.Add("a***")
	star.Add("zzzz")
	line := strings.Repeat("a", 20000) + "zzzz"
	if got := star.Mask(line); strings.Contains(got, "a***") {
		t.Errorf("a starred secret came back: %q...", got[:min(len(got), 40)])
	}
}

// TestMaskValue: strings inside a decoded JSON value are masked, keys and
// other values are kept.
func TestMaskValue(t *testing.T) {
	t.Parallel()
	s := &Secrets{}
	s.Add("hunter22")
	got := s.MaskValue(map[string]any{"hunter22": []any{"pw hunter22", 3.0, true, map[string]string{"k": "hunter22"}}})
	b, _ := json.Marshal(got)
	if want := `{"hunter22":["pw ***",3,true,{"k":"***"}]}`; string(b) != want {
		t.Errorf("MaskValue = %s, want %s", b, want)
	}
	var none *Secrets
	if none.Mask("hunter22") != "hunter22" {
		t.Error("a nil set masks nothing")
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestMaskerSecretAcrossALongLineCut: a line longer than the writers keep
// is written in parts; a secret where one part ends and the next begins
// is still masked, by the task log's Writer and by MaskedWriter.
func TestMaskerSecretAcrossALongLineCut(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	long := strings.Repeat("x", maxPartial)
	for _, split := range []int{1, 4, len(secret) - 1} {
		writes := []string{long + secret[:split], secret[split:] + "\n"}
		check := func(name, got string) {
			t.Helper()
			if strings.Contains(got, secret[:split]+"\n") || strings.Contains(got, secret[:split]+"[") ||
				!strings.Contains(got, Masked) || strings.Count(got, "x") != maxPartial {
				t.Errorf("%s, secret split at %d: got ...%q", name, split, got[max(len(got)-80, 0):])
			}
		}
		var out bytes.Buffer
		m := NewMasked(&out)
		m.AddSecret(secret)
		for _, w := range writes {
			if _, err := m.Write([]byte(w)); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		check("MaskedWriter", out.String())

		path := filepath.Join(t.TempDir(), "attempt=1.log")
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.AddSecret(secret)
		for _, s := range writes {
			if _, err := w.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		check("Writer", string(b))
	}
}
