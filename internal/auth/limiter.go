package auth

import (
	"sync"
	"time"
)

// limiter counts login attempts per key (a username, a remote address) in
// a sliding window, a success giving its attempt back: after max failures
// within window, the key is refused until the oldest of them leaves the
// window. It lives in the process: two API servers each count their own,
// which still bounds guessing.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
}

// maxLimiterKeys bounds the memory a flood of distinct usernames can take:
// past it, keys with no recent failure are dropped.
const maxLimiterKeys = 4096

func newLimiter(maxFails int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: maxFails, window: window, now: now, fails: map[string][]time.Time{}}
}

// take charges one attempt to each of keys, unless one of them is
// refused: then nothing is charged and it returns how long the first
// refused key stays refused. Attempts are charged before the (slow)
// password check, so guesses sent all at once cannot all pass before the
// first failure is counted; a success gives its charge back (refund).
func (l *limiter) take(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		recent := l.recent(k, now)
		if len(recent) >= l.max {
			wait = max(wait, recent[len(recent)-l.max].Add(l.window).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	if len(l.fails) >= maxLimiterKeys {
		for k := range l.fails {
			if len(l.recent(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
	}
	for _, k := range keys {
		l.fails[k] = append(l.recent(k, now), now)
	}
	return 0
}

// refund takes back the latest charge of each key: an attempt that
// succeeded, or whose password was never checked.
func (l *limiter) refund(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if ts := l.fails[k]; len(ts) > 1 {
			l.fails[k] = ts[:len(ts)-1]
		} else {
			delete(l.fails, k)
		}
	}
}

// reset forgets the failures of key (a user who logged in).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// recent returns key's failures within the window, dropping older ones.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	if i == len(ts) {
		delete(l.fails, key)
		return nil
	}
	ts = ts[i:]
	l.fails[key] = ts
	return ts
}
