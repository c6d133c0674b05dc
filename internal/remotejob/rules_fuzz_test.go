package remotejob

import (
	"regexp"
	"strings"
	"testing"
)

// The rules as regular expressions, as they were written before the
// hand-written checks replaced them: the fuzz target holds the two equal.
var (
	jobIDRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$`)
	unsafeRE  = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// FuzzJobIDRules: ValidJobID, the job id's safe parts and the environment
// name check agree with their regular expressions on any input (invalid
// UTF-8 and multi-byte letters included).
func FuzzJobIDRules(f *testing.F) {
	for _, s := range []string{"", "a", "_x", ".hidden", "-n", "ok.id-1_2", "a b", "é", "\xff\xfe", "a\n", "x/../y",
		"A" + strings.Repeat("b", 199), "A" + strings.Repeat("b", 200), "9lives", "PATH", "_", "a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidJobID(s), jobIDRE.MatchString(s); got != want {
			t.Errorf("ValidJobID(%q) = %v, the rule says %v", s, got, want)
		}
		if got, want := safeRuns(s), unsafeRE.ReplaceAllString(s, "_"); got != want {
			t.Errorf("safeRuns(%q) = %q, the rule says %q", s, got, want)
		}
		if got, want := validEnvName(s), envNameRE.MatchString(s); got != want {
			t.Errorf("validEnvName(%q) = %v, the rule says %v", s, got, want)
		}
	})
}
