package scheduler

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMain stops the services testenv started (PostgreSQL) and checks
// that no goroutine leaked.
func TestMain(m *testing.M) { testenv.RunMain(m) }
