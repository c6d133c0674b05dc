package tasklog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzMasker: whatever the secret and the text, and wherever a write
// splits the text, the masked output holds none of the secret's forms
// (plain, URL-encoded, JSON-escaped, base64) of MinSecretLength or more,
// and masking neither panics nor hangs.
func FuzzMasker(f *testing.F) {
	f.Add("hunter22", "pw=hunter22 b64=aHVudGVyMjI= q=hunter22\n", uint16(7))
	f.Add("a***", strings.Repeat("a", 300)+"***\n", uint16(100))
	f.Add("p@ss w0rd/é", `{"pw":"p@ss w0rd\/\u00e9"} p%40ss+w0rd%2F%C3%A9`, uint16(0))
	f.Add("line1-secret\nline2-secret", "x line1-secret\nline2-secret y\n", uint16(20))
	f.Fuzz(func(t *testing.T, secret, text string, cut uint16) {
		var out bytes.Buffer
		m := NewMasked(&out)
		m.AddSecret(secret)
		at := 0
		if len(text) > 0 {
			at = int(cut) % (len(text) + 1)
		}
		for _, part := range []string{text[:at], text[at:]} {
			if _, err := m.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		for _, form := range fuzzForms(secret) {
			if len(form) >= MinSecretLength && !strings.ContainsAny(form, "\r\n") && strings.Contains(got, form) {
				t.Fatalf("secret %q: output %q holds the form %q", secret, got, form)
			}
		}
	})
}

// fuzzForms lists the forms of secret the masker must hide, computed here
// independently of Variants.
func fuzzForms(secret string) []string {
	if len(secret) < MinSecretLength {
		return nil
	}
	js, _ := json.Marshal(secret)
	forms := []string{
		url.QueryEscape(secret), url.PathEscape(secret), string(js[1 : len(js)-1]),
		base64.StdEncoding.EncodeToString([]byte(secret)), base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
	}
	for line := range strings.Lines(secret) {
		forms = append(forms, strings.TrimRight(line, "\r\n"))
	}
	return forms
}
