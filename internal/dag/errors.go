package dag

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FileError is one problem in one DAG file, with the position and field path
// of the offending YAML node, so that the CLI, the API and editors can point
// the user at the exact spot. Line and Column are 1-based; 0 means unknown.
type FileError struct {
	File   string
	Line   int
	Column int
	Field  string // e.g. "tasks[wordcount].depends_on"; empty for the file as a whole
	Msg    string

	err error // underlying cause (e.g. from os.ReadFile), for errors.Is
}

// Error formats the problem the way compilers do, which editors and
// terminals turn into links: "dags/x.yaml:12:5: tasks[2].retries: expected
// an integer, got string \"two\"".
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, if any, so that errors.Is(err,
// fs.ErrNotExist) works on a file that could not be read.
func (e *FileError) Unwrap() error { return e.err }

// joinFileErrors sorts problems by position, drops exact duplicates (an
// aliased YAML node can be reported once per use) and joins them.
func joinFileErrors(errs []*FileError) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Column < errs[j].Column
	})
	type key struct {
		line, col int
		field     string
		msg       string
	}
	seen := make(map[key]bool, len(errs))
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		k := key{e.Line, e.Column, e.Field, e.Msg}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return errors.Join(out...)
}

// FileErrors returns the *FileError values inside err (as returned by
// LoadFile, Parse or Bag.Errors), so callers can render them one per line or
// as editor diagnostics.
func FileErrors(err error) []*FileError {
	var out []*FileError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FileError); ok { //nolint:errorlint // walking the join tree node by node
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if fe := (*FileError)(nil); errors.As(err, &fe) {
			out = append(out, fe)
		}
	}
	walk(err)
	return out
}

// didYouMean returns ` (did you mean "x"?)` when one of the candidates is
// close enough to word to be a likely typo, and "" otherwise.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// suggest returns the candidate closest to word by edit distance (with
// transpositions, so "retires" finds "retries"), or "" if none is close.
// Ties go to the earliest candidate, keeping messages deterministic.
func suggest(word string, candidates []string) string {
	lw := strings.ToLower(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(lw, lc)
		limit := 1
		switch n := max(len(lw), len(lc)); {
		case n > 8:
			limit = 3
		case n > 4:
			limit = 2
		}
		if d > limit && !(len(lw) >= 3 && strings.HasPrefix(lc, lw)) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the transposition looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
