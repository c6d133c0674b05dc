package operator

import "testing"

// TestHoldsMask: stored fields holding a masked secret anywhere are
// recognised, so that no operator starts work from them.
func TestHoldsMask(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		want bool
	}{
		{map[string]any{"env_vars": map[string]any{"PW": "***"}}, true},
		{map[string]any{"command": "mysql -p*** -e 'select 1'"}, true},
		{[]any{"a", []any{"b", "x***"}}, true},
		{map[string]string{"TOKEN": "***"}, true},
		{map[string]any{"cmds": []any{"echo", "*"}, "n": 3.0}, false},
		{nil, false},
	} {
		if got := HoldsMask(c.v); got != c.want {
			t.Errorf("HoldsMask(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}
