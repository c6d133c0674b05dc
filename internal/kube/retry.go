package kube

import (
	"context"
	"time"
)

// Reconnecting: the first retry comes quickly (a dropped watch is usually
// opened again at once), then they back off.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
	// retryReport is how often a failure that goes on is said again.
	retryReport = 30 * time.Second
)

// backoff paces the retries of one loop and says when a failure is worth
// reporting (the first of a streak, then every retryReport).
type backoff struct {
	wait       time.Duration
	reportedAt time.Time
}

// failed returns how long to wait and whether to report this failure.
func (b *backoff) failed() (time.Duration, bool) {
	if b.wait == 0 {
		b.wait = retryMin
	} else {
		b.wait = min(2*b.wait, retryMax)
	}
	now := time.Now()
	report := b.reportedAt.IsZero() || now.Sub(b.reportedAt) >= retryReport
	if report {
		b.reportedAt = now
	}
	return b.wait, report
}

// ok resets the backoff after progress.
func (b *backoff) ok() { b.wait, b.reportedAt = 0, time.Time{} }

// sleep waits d, or less if ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
