package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the programs tried, in order, when SIROCCO_CHROMIUM is
// unset: Debian's package first (what scripts/test.sh installs).
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"}

// FindChromium returns the path of a Chromium: $SIROCCO_CHROMIUM, else the
// first of chromiumNames in PATH, or an error wrapping ErrNotInstalled.
func FindChromium() (string, error) {
	if p := os.Getenv("SIROCCO_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SIROCCO_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: none of %v in PATH (apt-get install chromium, or set SIROCCO_CHROMIUM)", ErrNotInstalled, chromiumNames)
}

// Chromium starts a headless Chromium for t with a fresh profile and
// returns a chromedp context of its first tab; the browser is closed when
// t ends. A missing Chromium skips t, or fails it under CI=true.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	path, err := FindChromium()
	RequireCI(t, "Chromium", err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.NoSandbox, // tests may run as root (CI containers), where the sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser gracefully
		cancel()
		cancelAlloc()
	})
	return ctx
}
