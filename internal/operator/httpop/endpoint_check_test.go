package httpop

import (
	"strings"
	"testing"
)

// dags validate refuses what the run would refuse whatever the connection,
// and leaves templated and absolute-but-clean endpoints to the run.
func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for endpoint, want := range map[string]string{
		"../etc/passwd":                    "'..' path segment",
		"/v1/..%2fadmin":                   "'..' path segment",
		"v1/status#top":                    "fragment",
		"https://other.example/a/../b":     "'..' path segment",
		"v1/status":                        "",
		"https://other.example/v1?q=..":    "",
		"{{ params.dir }}/../x":            "",
		"{% if params.x %}..{% endif %}/y": "",
	} {
		err := checkEndpoint(endpoint)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: unexpected error %v", endpoint, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one saying %q", endpoint, err, want)
		case err != nil && strings.HasPrefix(err.Error(), "field endpoint"):
			t.Errorf("%q: %v repeats the field the loader names", endpoint, err)
		}
	}
}
