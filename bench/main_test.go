// Package bench holds Sirocco's end-to-end performance benchmarks: a real
// engine (scheduler loop, local executor, bash and empty operators) on
// SQLite and on PostgreSQL, the DAG loader, and the standalone binary.
// docs/benchmarks.md records the figures and how to reproduce them:
//
//	go test ./bench -run '^$' -bench . -benchtime 1x
package bench

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMain stops the PostgreSQL server the benchmarks started and checks
// that no engine goroutine outlived its benchmark.
func TestMain(m *testing.M) { testenv.RunMain(m) }
