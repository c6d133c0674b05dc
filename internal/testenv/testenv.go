package testenv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// ErrNotInstalled marks a service whose software is absent from this
// machine, the one failure RequireCI turns into a skip outside CI.
var ErrNotInstalled = errors.New("not installed")

// InCI reports whether the environment says this is a CI run (CI=true, or
// any value strconv.ParseBool accepts as true).
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// RequireCI applies the rule for optional test dependencies: when err is
// non-nil, the test is skipped on a developer's machine, so a missing
// service does not block unrelated work, but fails under CI=true, so a CI
// machine that lacks it cannot pass green without testing what needs it.
// what names the dependency in the message.
func RequireCI(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("%s is required under CI=true: %v", what, err)
		return
	}
	t.Skipf("skipping: %s is not available (it is required under CI=true): %v", what, err)
}

var (
	mainActive atomic.Bool
	cleanupsMu sync.Mutex
	cleanups   []func() error
)

// RunMain runs the tests of a package that uses testenv services, then
// stops every service they started and checks that no goroutine leaked
// (goleak, with opts to ignore known long-lived goroutines), and exits with
// the resulting code. Services live as long as the test binary rather than
// one test, which is why they are torn down here and not by t.Cleanup.
func RunMain(m *testing.M, opts ...goleak.Option) {
	mainActive.Store(true)
	code := m.Run()
	if err := stopAll(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping services: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: goroutines leaked by the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// AtExit registers fn to run when RunMain tears the services down, for
// resources a TestMain creates itself (a built binary's folder).
func AtExit(fn func() error) { atExit(fn) }

// requireMain fails t unless the package's TestMain calls RunMain: without
// it nothing would stop the services this binary starts.
func requireMain(t testing.TB) {
	t.Helper()
	if !mainActive.Load() {
		t.Fatal("testenv: this package's TestMain must call testenv.RunMain(m) so services are stopped")
	}
}

// atExit registers fn to run when RunMain tears services down.
func atExit(fn func() error) {
	cleanupsMu.Lock()
	defer cleanupsMu.Unlock()
	cleanups = append(cleanups, fn)
}

// stopAll runs the registered teardowns, newest first.
func stopAll() error {
	cleanupsMu.Lock()
	fns := cleanups
	cleanups = nil
	cleanupsMu.Unlock()
	var err error
	for i := len(fns) - 1; i >= 0; i-- {
		err = errors.Join(err, fns[i]())
	}
	return err
}
