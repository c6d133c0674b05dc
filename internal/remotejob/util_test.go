package remotejob

import (
	"fmt"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// diffHint shows where two long strings first differ.
func diffHint(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-40)
	return fmt.Sprintf("first difference at byte %d (got %d bytes, want %d):\n got  …%q\n want …%q", i, len(got), len(want), got[lo:min(len(got), i+40)], want[lo:min(len(want), i+40)])
}
