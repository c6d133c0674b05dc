package dag

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on what one file's problems may cost: an import error is stored,
// listed by the API and printed by the CLI, so a hostile or mistaken file
// (a binary, /etc/shadow, a million unknown keys) must not flood any of them
// nor echo whole lines of itself back.
const (
	maxFileErrors = 100 // problems kept per file; the rest are counted
	maxMsgLen     = 300 // bytes of one message, after the field path
	maxQuoteLen   = 40  // bytes of a value quoted from the file
	maxFieldLen   = 200 // bytes of a field path before it stops growing
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
// aliased YAML node can be reported once per use) and joins them; dropped
// counts problems left out by the cap, noted last.
func joinFileErrors(errs []*FileError, dropped int) error {
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
	if dropped > 0 {
		out = append(out, &FileError{File: errs[0].File, Msg: fmt.Sprintf("%d more problems not shown", dropped)})
	}
	return errors.Join(out...)
}

// shortText cuts s to at most limit bytes (on a rune boundary), marking the
// cut with an ellipsis.
func shortText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quoteShort quotes a value read from the file for a message: at most
// maxQuoteLen bytes of it, so that a file that is not a DAG at all (a
// symlink to a secret) gets only a fragment of a line quoted back.
func quoteShort(s string) string { return strconv.Quote(shortText(s, maxQuoteLen)) }

// subField is the path of key name inside field. Names are cut like quoted
// values, and a path stops growing at maxFieldLen so that deeply nested
// long keys cost linear, not quadratic, memory.
func subField(field, name string) string {
	if field == "" {
		return shortText(name, maxQuoteLen)
	}
	if len(field) >= maxFieldLen {
		return capped(field)
	}
	return field + "." + shortText(name, maxQuoteLen)
}

// indexField is the path of item i of list field.
func indexField(field string, i int) string {
	if len(field) >= maxFieldLen {
		return capped(field)
	}
	return field + "[" + strconv.Itoa(i) + "]"
}

func capped(field string) string {
	if strings.HasSuffix(field, ".…") {
		return field
	}
	return field + ".…"
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

// maxHintWord is the longest word a did-you-mean hint is looked for: a
// typo of a key or id is short, and longer words would make hints costly.
const maxHintWord = 64

// hintBudget bounds the work of a file's did-you-mean hints, in compared
// bytes, so that a file with a million unknown references to a thousand
// tasks still loads in linear time (later problems get no hint).
const hintBudget = 20_000_000

// hint returns ` (did you mean "x"?)` when one of the candidates is close
// enough to word to be a likely typo, and "" otherwise (or once the file's
// hint budget is spent).
func (l *loader) hint(word string, candidates []string) string {
	return formatHint(suggestWithin(word, candidates, &l.hintsLeft))
}

// formatHint returns ` (did you mean "x"?)` for a suggestion, "" for none.
func formatHint(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", s)
}

// suggest returns the candidate closest to word by edit distance (with
// transpositions, so "retires" finds "retries"), or "" if none is close.
// Ties go to the earliest candidate, keeping messages deterministic.
func suggest(word string, candidates []string) string {
	left := hintBudget
	return suggestWithin(word, candidates, &left)
}

// suggestWithin is suggest spending at most *budget compared bytes.
func suggestWithin(word string, candidates []string, budget *int) string {
	if len(word) > maxHintWord {
		return ""
	}
	lw := strings.ToLower(word)
	nw := utf8.RuneCountInString(lw)
	best, bestDist := "", -1
	for _, c := range candidates {
		if *budget -= 1 + len(c); *budget < 0 {
			return best
		}
		lc := strings.ToLower(c)
		nc := utf8.RuneCountInString(lc)
		limit := 1
		switch n := max(len(lw), len(lc)); {
		case n > 8:
			limit = 3
		case n > 4:
			limit = 2
		}
		var d int
		switch {
		case len(lw) >= 3 && strings.HasPrefix(lc, lw):
			d = nc - nw // deleting the tail is the shortest way
		case abs(nc-nw) > limit:
			continue // the distance is at least the difference in length
		default:
			if *budget -= len(lw) * len(lc); *budget < 0 {
				return best
			}
			if d = editDistance(lw, lc); d > limit {
				continue
			}
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
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
