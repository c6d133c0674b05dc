package connection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Connection is everything an operator needs to reach one system, with
// Airflow's fields. Extra holds the type-specific settings (deploy_mode,
// key_file, sslmode, ...) as strings, which is what URIs carry; values that
// were not strings in a JSON extra keep their JSON text. The JSON and YAML
// form, with Airflow's field names, is Fields and FromFields.
type Connection struct {
	ID          string
	Type        string // normalised: NormalizeType
	Host        string
	Port        int // 0: none
	Login       string
	Password    string
	Schema      string
	Extra       map[string]string
	Description string
}

// Mask is what Redacted puts in place of a secret, as Airflow's masker.
const Mask = "***"

// MaxIDLength is the longest connection id, Airflow's limit.
const MaxIDLength = 250

// idPattern is Airflow's rule for connection ids: letters, digits, '_', '.'
// and '-'. Keeping to it means every id also names an environment variable
// a shell can set (after upper-casing, '.' and '-' aside) and a file key.
var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]+$`) })

// ValidateID reports whether id may name a connection.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("connection id is empty")
	case len(id) > MaxIDLength:
		return fmt.Errorf("connection id %.20q... is longer than %d characters", id, MaxIDLength)
	case !idPattern().MatchString(id):
		return fmt.Errorf("connection id %q may only contain letters, digits, '_', '.' and '-'", id)
	}
	return nil
}

// Validate reports the first reason c cannot be stored: a bad id, a missing
// or malformed type, or a port outside 0..65535. A connection that passes
// has a URI that Parse reads back.
func (c Connection) Validate() error {
	if err := ValidateID(c.ID); err != nil {
		return err
	}
	if c.Type == "" {
		return fmt.Errorf("connection %s: conn_type is required", c.ID)
	}
	if !validScheme(c.Type) || c.Type != NormalizeType(c.Type) {
		return fmt.Errorf("connection %s: conn_type %q must be lower case letters, digits, '_', '+' or '.', starting with a letter",
			c.ID, c.Type)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("connection %s: port %d is outside 0..65535", c.ID, c.Port)
	}
	return nil
}

// NormalizeType returns the canonical spelling of a connection type, as
// Airflow does: lower case, '-' read as '_' (URIs cannot carry '_' in a
// scheme portably, so Airflow writes google-cloud-platform:// for
// google_cloud_platform), and postgresql as postgres.
func NormalizeType(t string) string {
	t = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(t)), "-", "_")
	if t == "postgresql" {
		return "postgres"
	}
	return t
}

// sensitiveFields are Airflow's DEFAULT_SENSITIVE_FIELDS: an extra whose key
// contains one of them (case-insensitively) is a secret. key_file and keytab
// are paths, not secrets, and match none of them.
var sensitiveFields = []string{
	"access_token", "api_key", "apikey", "authorization", "passphrase", "passwd",
	"password", "private_key", "secret", "token", "keyfile_dict", "service_account",
}

// IsSensitive reports whether a value stored under key (an extra, or a key
// inside a JSON extra) must be hidden, by Airflow's substring rule. '-'
// counts as '_', as the ssh client reads extras (private-key is its
// private_key), so no spelling a client takes as a secret is shown.
func IsSensitive(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
	for _, s := range sensitiveFields {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redacted returns c with the password and every sensitive extra replaced
// by Mask, for printing, listing and API answers. Keys inside JSON extras
// are redacted too. Empty values stay empty, so the reader still sees
// whether a password is set.
func (c Connection) Redacted() Connection {
	if c.Password != "" {
		c.Password = Mask
	}
	if len(c.Extra) > 0 {
		extra := make(map[string]string, len(c.Extra))
		for k, v := range c.Extra {
			extra[k] = redactExtra(k, v, nil)
		}
		c.Extra = extra
	}
	return c
}

// Secrets returns the strings a task log must mask for c: the password (and
// its percent-encoded forms, which appear in URIs) and the values of
// sensitive extras, including the string leaves of JSON values under
// sensitive keys. It is sorted and free of duplicates and empty strings.
func (c Connection) Secrets() []string {
	set := map[string]bool{}
	if c.Password != "" {
		set[c.Password] = true
		set[escape(c.Password, false)] = true
		set[url.QueryEscape(c.Password)] = true
	}
	for k, v := range c.Extra {
		redactExtra(k, v, set)
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

// redactExtra returns the display form of the extra k=v and adds the
// secrets it hides to secrets, when not nil.
func redactExtra(k, v string, secrets map[string]bool) string {
	if IsKubeConfigExtra(k) {
		if v == "" {
			return ""
		}
		if secrets != nil {
			addKubeConfigSecrets(v, secrets)
		}
		return Mask
	}
	parsed, isJSON := parseJSONValue(v)
	if IsSensitive(k) {
		if v == "" {
			return ""
		}
		if secrets != nil {
			secrets[v] = true
			if isJSON {
				collectLeaves(parsed, secrets)
			}
		}
		return Mask
	}
	if !isJSON {
		return v
	}
	red, changed := redactJSON(parsed, secrets)
	if !changed {
		return v
	}
	b, err := json.Marshal(red)
	if err != nil {
		return Mask // cannot happen for decoded JSON; hide rather than leak
	}
	return string(b)
}

// parseJSONValue decodes v if it is a JSON object or array.
func parseJSONValue(v string) (any, bool) {
	t := strings.TrimSpace(v)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil || dec.More() {
		return nil, false
	}
	return x, true
}

// redactJSON replaces the values of sensitive keys anywhere in x by Mask,
// adding what it hides to secrets when not nil.
func redactJSON(x any, secrets map[string]bool) (any, bool) {
	switch v := x.(type) {
	case map[string]any:
		changed := false
		for k, e := range v {
			if IsSensitive(k) && e != nil && e != "" {
				if secrets != nil {
					collectLeaves(e, secrets)
				}
				v[k] = Mask
				changed = true
				continue
			}
			if r, ch := redactJSON(e, secrets); ch {
				v[k] = r
				changed = true
			}
		}
		return v, changed
	case []any:
		changed := false
		for i, e := range v {
			if r, ch := redactJSON(e, secrets); ch {
				v[i] = r
				changed = true
			}
		}
		return v, changed
	}
	return x, false
}

// collectLeaves adds every scalar inside x, as text, to secrets.
func collectLeaves(x any, secrets map[string]bool) {
	switch v := x.(type) {
	case map[string]any:
		for _, e := range v {
			collectLeaves(e, secrets)
		}
	case []any:
		for _, e := range v {
			collectLeaves(e, secrets)
		}
	case string:
		secrets[v] = true
	case json.Number:
		secrets[v.String()] = true
	case nil:
	default:
		secrets[fmt.Sprint(v)] = true
	}
}

// ParseExtra reads an extra written as a JSON object, as --conn-extra and
// Airflow's extra field take it; values that are not strings keep their
// JSON text.
func ParseExtra(s string) (map[string]string, error) { return decodeExtraJSON([]byte(s)) }

// decodeExtraJSON reads an extra given as a JSON object (Airflow's extra
// column and __extra__ parameter): string values as they are, other values
// as their compact JSON text. "" and null mean no extra.
func decodeExtraJSON(data []byte) (map[string]string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	if data[0] != '{' {
		return nil, errors.New(`extra must be a JSON object, like {"key": "value"}`)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("extra must be a JSON object: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := jsonText(v)
		if err != nil {
			return nil, fmt.Errorf("extra %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// jsonText is a JSON value as an extra string: a string's content, or the
// compact text of anything else.
func jsonText(v json.RawMessage) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return "", err
	}
	return validUTF8(b.String()), nil
}

// validUTF8 replaces each invalid byte of s by U+FFFD, as encoding/json
// does when it encodes a string, so the text survives a JSON round trip.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
