package airflowimport

import (
	"regexp"
	"sync"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// urlPassword is the password of a URL's user info
// (postgresql://user:PASSWORD@host), wherever it is in a text.
var urlPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'"]*:)[^\s@'"]+@`) })

// redactText hides the passwords of URLs in a report line.
func redactText(s string) string {
	return urlPassword().ReplaceAllString(s, "${1}"+connection.Mask+"@")
}

// redactValue hides, in an encoded value about to be shown in a report,
// the values of keys Sirocco's connections treat as secrets (password,
// token, api_key ...) and the passwords of URLs.
func redactValue(v any) any {
	switch x := v.(type) {
	case string:
		return redactText(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if connection.IsSensitive(k) && !isDefault(e) {
				out[k] = connection.Mask
				continue
			}
			out[k] = redactValue(e)
		}
		return out
	}
	return v
}
