package branch_test

import (
	"slices"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/operator/branch"
	"github.com/sirocco-dev/sirocco/internal/scheduler"
)

// FuzzBranchLine: any last line either fails with an error or gives a
// return_value that the scheduler decodes back to the same ids, all of
// them direct downstream tasks.
func FuzzBranchLine(f *testing.F) {
	for _, s := range []string{"a", `["a","b"]`, `"b"`, "", "null", "None", "[]", "['a']", `[1]`, `["a"`, `"a`,
		`["a","a"]`, "  b  ", `[null]`, `["\u00e9"]`, "\xff", `["a"] x`} {
		f.Add(s)
	}
	downstream := []string{"a", "b", "é"}
	f.Fuzz(func(t *testing.T, line string) {
		value, ids, err := branch.Choose(line, "choose", downstream)
		if err != nil {
			return
		}
		for _, id := range ids {
			if !slices.Contains(downstream, id) {
				t.Fatalf("chose %q, not downstream", id)
			}
		}
		c, err := scheduler.DecodeChoice(scheduler.BranchOperator, string(value))
		if err != nil {
			t.Fatalf("pushed %s, which the scheduler cannot read: %v", value, err)
		}
		if c.All || !slices.Equal(c.Follow, ids) {
			t.Fatalf("pushed %s for %v; the scheduler reads %+v", value, ids, c)
		}
	})
}

// FuzzConditionLine: any last line either fails with an error or gives a
// return_value the scheduler decodes; the bare words keep their meaning.
func FuzzConditionLine(f *testing.F) {
	for _, s := range []string{"true", "False", "yes", "NO", "1", "0", "0.0", "None", "", "[]", "{}", `""`, `"x"`,
		"1e400", "-0", "maybe", "1 2", `{"a":`, "\xff", "[0]", "nan"} {
		f.Add(s)
	}
	words := map[string]bool{"true": true, "yes": true, "1": true, "false": false, "no": false, "0": false, "none": false, "": false}
	f.Fuzz(func(t *testing.T, line string) {
		value, err := branch.ParseCondition(line)
		if err != nil {
			return
		}
		c, err := scheduler.DecodeChoice(scheduler.ShortCircuitOperator, string(value))
		if err != nil {
			t.Fatalf("pushed %s for %q, which the scheduler cannot read: %v", value, line, err)
		}
		if want, ok := words[line]; ok && c.All != want {
			t.Fatalf("%q reads as %v", line, c.All)
		}
	})
}
