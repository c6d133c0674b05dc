package airflowimport

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ignoreRule is one line of an .airflowignore: the folder it was found
// in, and the line read both ways Airflow reads it (a regular expression,
// Airflow 2's default syntax, and a glob, Airflow 3's), since the file does
// not say which Airflow it was written for.
type ignoreRule struct {
	dir     string
	line    string
	re      *regexp.Regexp
	pattern string
}

// readIgnore reads dir's .airflowignore (none: no rules).
func readIgnore(dir string) ([]ignoreRule, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".airflowignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read .airflowignore: %w", err)
	}
	return parseIgnore(dir, data), nil
}

// parseIgnore reads the lines of dir's .airflowignore.
func parseIgnore(dir string, data []byte) []ignoreRule {
	var rules []ignoreRule
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		r := ignoreRule{dir: dir, line: line, pattern: strings.Trim(line, "/")}
		r.re, _ = regexp.Compile(line) // a glob such as *.py is not a regular expression
		rules = append(rules, r)
	}
	return rules
}

// ignoredBy returns the .airflowignore line that excludes p, "" for none.
func ignoredBy(rules []ignoreRule, p string) string {
	for _, r := range rules {
		rel, err := filepath.Rel(r.dir, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		rel = filepath.ToSlash(rel)
		if r.re != nil && r.re.MatchString(rel) {
			return filepath.Join(r.dir, ".airflowignore") + " (" + r.line + ")"
		}
		if globMatch(r.pattern, rel) {
			return filepath.Join(r.dir, ".airflowignore") + " (" + r.line + ")"
		}
	}
	return ""
}

// globMatch matches a gitignore-like pattern: against the whole relative
// path when it has a '/', else against any of its parts.
func globMatch(pattern, rel string) bool {
	if strings.Contains(pattern, "/") {
		ok, _ := path.Match(pattern, rel)
		return ok
	}
	for _, part := range strings.Split(rel, "/") {
		if ok, _ := path.Match(pattern, part); ok {
			return true
		}
	}
	return false
}
