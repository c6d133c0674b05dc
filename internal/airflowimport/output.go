package airflowimport

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// written is what one import has written so far, so that no two DAGs
// share a file: their ids, and the callables modules taken.
type written struct {
	dags    map[string]string // dag id -> FILE:LINE of the DAG
	modules map[string]string // callables module -> dag id
}

func newWritten() *written {
	return &written{dags: map[string]string{}, modules: map[string]string{}}
}

// module returns a callables module name no other DAG of this import
// has: dag ids that differ only in '-' and '.' (a-b, a.b, a_b) would
// otherwise write over each other's module.
func (w *written) module(dagID string) string {
	base := pyIdent(dagID)
	name := base + "_callables"
	for n := 2; w.modules[name] != "" && w.modules[name] != dagID; n++ {
		name = fmt.Sprintf("%s_%d_callables", base, n)
	}
	w.modules[name] = dagID
	return name
}

// importerHeads are how the files the importer writes begin.
var importerHeads = [][]byte{[]byte("# Converted from "), []byte(`"""Python functions of a DAG converted from `)}

// checkReplace refuses to write over a file the importer did not write
// (a hand-written DAG or module of the same name); replaced is true when
// path holds an earlier conversion, which the report then names.
func checkReplace(path string) (replaced bool, err error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	for _, h := range importerHeads {
		if bytes.HasPrefix(head[:n], h) {
			return true, nil
		}
	}
	return false, fmt.Errorf("%s exists and was not written by import-airflow: it is left as it is (move it, or choose another --out)", path)
}
