package operator

import (
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// HoldsMask reports whether a string anywhere in v (decoded JSON: strings,
// lists, maps) holds the mask of a secret. A resumed try gets the fields
// stored at its start, where secrets are masked: work that must be started
// anew from them would run with "***" in place of a password, so an
// operator refuses to start anything from fields for which this is true.
func HoldsMask(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, connection.Mask)
	case []any:
		for _, e := range x {
			if HoldsMask(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if HoldsMask(e) {
				return true
			}
		}
	case map[string]string:
		for _, e := range x {
			if HoldsMask(e) {
				return true
			}
		}
	}
	return false
}
