package sqlstore_test

import (
	"testing"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// TestMain stops the PostgreSQL server the tests may start and checks that
// closing a store leaves no goroutine behind.
func TestMain(m *testing.M) { testenv.RunMain(m) }
