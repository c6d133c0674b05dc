package tasklog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
)

// This file is the masker every log and answer that may carry a secret
// goes through: the try's log (Writer), `tasks test` output
// (MaskedWriter), the service log (MaskingHandler) and API answers
// (Secrets). As Airflow's secrets masker, it replaces each known secret by
// "***", and also the forms a secret takes once a program encodes it:
// base64 (a Basic auth header, a Kubernetes secret), URL-encoding (a
// query string, a URI) and JSON string escaping (a JSON log line or
// document), as Airflow's secret_mask_adapter lets one configure.

// MinSecretLength is the shortest value masked: masking "a" would garble
// the log without protecting anything.
const MinSecretLength = 4

// Masked is what a secret is replaced with.
const Masked = "***"

// maxMaskPasses bounds the passes over one line. A pass replaces every
// occurrence of every form; another pass is needed only when a secret
// holds '*' and a replacement made it appear anew. A line still holding a
// secret after that is hidden whole.
const maxMaskPasses = 3

// Variants returns the forms of secret that are masked: the secret, its
// URL encodings (query and path), its JSON string escapes (with and
// without HTML escaping, and ASCII-only as Python writes them), its base64
// encodings (standard and URL alphabets, padded and not) and, for base64
// text that holds the secret after other bytes, the part of its encoding
// that does not depend on what comes before or after, at each of the
// three alignments. A multi-line secret also yields each of its lines, as
// logs are masked line by line. Forms shorter than MinSecretLength, and
// duplicates, are left out.
func Variants(secret string) []string {
	if len(secret) < MinSecretLength {
		return nil
	}
	out := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	out = append(out, jsonEscapes(secret)...)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(secret)))
	}
	for skip := range 3 {
		rest := []byte(secret)[skip:]
		whole := len(rest) / 3 * 3
		if whole == 0 {
			continue
		}
		out = append(out, base64.RawStdEncoding.EncodeToString(rest[:whole]), base64.RawURLEncoding.EncodeToString(rest[:whole]))
	}
	if strings.ContainsAny(secret, "\r\n") {
		for line := range strings.Lines(secret) {
			out = append(out, strings.TrimRight(line, "\r\n"))
		}
	}
	kept := out[:0]
	for _, v := range out {
		if len(v) >= MinSecretLength && !slices.Contains(kept, v) {
			kept = append(kept, v)
		}
	}
	return kept
}

// jsonEscapes returns secret as it appears inside JSON strings written by
// Go (HTML-escaped and not) and by Python's json.dumps (ASCII only).
func jsonEscapes(secret string) []string {
	var out []string
	html, _ := json.Marshal(secret)
	out = append(out, string(html[1:len(html)-1]))
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	plain := strings.TrimSuffix(b.String(), "\n")
	out = append(out, plain[1:len(plain)-1])
	var ascii strings.Builder
	for _, r := range plain[1 : len(plain)-1] {
		switch {
		case r < 0x80:
			ascii.WriteRune(r)
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&ascii, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&ascii, `\u%04x`, r)
		}
	}
	return append(out, ascii.String())
}

// addSecret adds s and its Variants to secrets, keeping the longest first.
func addSecret(secrets [][]byte, s string) [][]byte {
	changed := false
	for _, v := range Variants(s) {
		if !slices.ContainsFunc(secrets, func(have []byte) bool { return string(have) == v }) {
			secrets = append(secrets, []byte(v))
			changed = true
		}
	}
	if changed {
		slices.SortStableFunc(secrets, func(a, b []byte) int { return len(b) - len(a) })
	}
	return secrets
}

// mask returns line with every occurrence of every secret replaced by
// Masked. Occurrences that overlap or touch are replaced together, so no
// part of a secret survives next to another one. line is not modified.
func mask(secrets [][]byte, line []byte) []byte {
	for range maxMaskPasses {
		out, changed := maskOnce(secrets, line)
		if !changed {
			return out
		}
		line = out
	}
	if _, changed := maskOnce(secrets, line); changed {
		return maskedLine(line)
	}
	return line
}

// maskedLine hides a whole line, keeping its line end.
func maskedLine(line []byte) []byte {
	end := len(line) - len(bytes.TrimRight(line, "\r\n"))
	return append([]byte(Masked), line[len(line)-end:]...)
}

// span is a byte range [start, end) of a line.
type span struct{ start, end int }

// maskOnce replaces the union of all occurrences of the secrets in one
// pass, reporting whether it replaced anything.
func maskOnce(secrets [][]byte, line []byte) ([]byte, bool) {
	var spans []span
	for _, s := range secrets {
		for from := 0; from <= len(line)-len(s); {
			i := bytes.Index(line[from:], s)
			if i < 0 {
				break
			}
			spans = append(spans, span{from + i, from + i + len(s)})
			from += i + 1
		}
	}
	if len(spans) == 0 {
		return line, false
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	out := make([]byte, 0, len(line))
	at := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		out = append(out, line[at:start]...)
		out = append(out, Masked...)
		at = end
	}
	return append(out, line[at:]...), true
}

// safeCut returns where an over-long unterminated line may be cut so that
// no secret is split between the part written now and the part kept: the
// kept tail is as long as the longest secret but one, and a secret that
// would straddle the cut moves it to the secret's start. It returns
// len(data) when no cut leaves anything to write (secrets as long as
// the line).
func safeCut(secrets [][]byte, data []byte) int {
	if len(secrets) == 0 {
		return len(data)
	}
	cut := len(data) - (len(secrets[0]) - 1) // secrets are longest first
	for moved := true; moved && cut > 0; {
		moved = false
		for _, s := range secrets {
			lo := max(cut-len(s)+1, 0)
			hi := min(cut+len(s)-1, len(data))
			if i := bytes.Index(data[lo:hi], s); i >= 0 && lo+i < cut {
				cut, moved = lo+i, true
			}
		}
	}
	if cut <= 0 {
		return len(data)
	}
	return cut
}

// Secrets is a set of values to hide, safe for concurrent use: the API
// masks XCom values with it, `tasks render` its output, and the service
// log every line (MaskingHandler).
type Secrets struct {
	mu    sync.RWMutex
	list  [][]byte // with Variants
	added []string
}

// Add masks secret, and its Variants, from now on; values shorter than
// MinSecretLength are ignored.
func (s *Secrets) Add(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(secret) >= MinSecretLength && !slices.Contains(s.added, secret) {
		s.added = append(s.added, secret)
		s.list = addSecret(s.list, secret)
	}
}

// empty reports whether nothing is masked (a nil set included).
func (s *Secrets) empty() bool {
	if s == nil {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.list) == 0
}

// List returns the secrets added, without their Variants.
func (s *Secrets) List() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.added)
}

// Mask returns text with every secret replaced by "***".
func (s *Secrets) Mask(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.list) == 0 {
		return text
	}
	return string(mask(s.list, []byte(text)))
}

// MaskValue returns a copy of a decoded JSON value (or any tree of maps,
// slices and strings) with every string masked; other values are kept.
func (s *Secrets) MaskValue(v any) any {
	switch x := v.(type) {
	case string:
		return s.Mask(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.MaskValue(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k] = s.Mask(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.MaskValue(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = s.Mask(e)
		}
		return out
	}
	return v
}

// MaskJSON returns a copy of a JSON value decoded with UseNumber with
// each string, object key and number holding a secret masked; a masked
// number becomes a string, and keys that mask alike are told apart. The
// REST API's XComs and the UI's rendered fields show stored JSON through
// it, so both mask alike.
func (s *Secrets) MaskJSON(v any) any {
	switch x := v.(type) {
	case string:
		return s.Mask(x)
	case json.Number:
		if m := s.Mask(x.String()); m != x.String() {
			return m
		}
		return x
	case map[string]any:
		return s.maskObject(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.MaskJSON(e)
		}
		return out
	}
	return v
}

// maskObject masks an object's keys and values. Keys a mask makes alike
// ("***" for two secrets, or beside a literal "***") would overwrite each
// other: the keys the mask leaves keep their names, and each masked one
// takes the first free of "***", "*** (2)", "*** (3)"..., in the order of
// the keys, so every entry stays and the same object shows the same way.
func (s *Secrets) maskObject(x map[string]any) map[string]any {
	out := make(map[string]any, len(x))
	var masked []string
	for k, e := range x {
		if m := s.Mask(k); m != k {
			masked = append(masked, k)
			continue
		}
		out[k] = s.MaskJSON(e)
	}
	slices.Sort(masked)
	for _, k := range masked {
		name := s.Mask(k)
		for n := 2; ; n++ {
			if _, taken := out[name]; !taken {
				break
			}
			name = fmt.Sprintf("%s (%d)", s.Mask(k), n)
		}
		out[name] = s.MaskJSON(x[k])
	}
	return out
}

// MaskedWriter passes complete lines to an io.Writer with every secret
// replaced by "***", without timestamps. `tasks test` prints a task's output
// to the terminal through it, so a test run shows no more than the task's
// log would.
type MaskedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte
	secrets [][]byte
}

// NewMasked returns a MaskedWriter writing to w.
func NewMasked(w io.Writer) *MaskedWriter { return &MaskedWriter{w: w} }

// AddSecret masks s, and its Variants, in every line written from now on;
// values shorter than MinSecretLength are ignored, as in Writer.AddSecret.
func (m *MaskedWriter) AddSecret(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = addSecret(m.secrets, s)
}

// Write passes on every complete line, masked; a partial last line waits
// for its end or Flush, so a secret split across writes is still masked.
func (m *MaskedWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data := append(m.partial, p...)
	m.partial = nil
	end := bytes.LastIndexByte(data, '\n') + 1
	if len(data)-end > maxPartial {
		end += safeCut(m.secrets, data[end:])
	}
	if end < len(data) {
		m.partial = append([]byte(nil), data[end:]...)
	}
	if end > 0 {
		if _, err := m.w.Write(mask(m.secrets, data[:end])); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes a partial last line.
func (m *MaskedWriter) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.partial) == 0 {
		return nil
	}
	_, err := m.w.Write(mask(m.secrets, m.partial))
	m.partial = nil
	return err
}
