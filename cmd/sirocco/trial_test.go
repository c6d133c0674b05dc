package main

// Tests of what a new user's trial of Sirocco found, across processes as
// the user met it.

import (
	"strings"
	"testing"
)

// TestRestartAfterACleanStopRecoversNothing: after SIGTERM (`sirocco
// stopped` logged) the next start does not say "previous worker is gone;
// its tries will be recovered", as it does after kill -9.
func TestRestartAfterACleanStopRecoversNothing(t *testing.T) {
	const recovery = "previous worker is gone; its tries will be recovered"
	for _, tc := range []struct {
		name      string
		stop      func(*server)
		recovered bool
	}{
		{"SIGTERM", (*server).stop, false},
		{"kill -9", (*server).kill9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, nil)
			first := s.startServer()
			tc.stop(first)
			if stopped := strings.Contains(first.log.String(), "sirocco stopped"); stopped == tc.recovered {
				t.Fatalf("precondition: `sirocco stopped` logged is %v after %s:\n%s", stopped, tc.name, first.log)
			}
			second := s.startServer()
			second.stop() // its recovery has ended when it has stopped
			if got := strings.Contains(second.log.String(), recovery); got != tc.recovered {
				t.Errorf("after %s, the next start logs %q: %v, want %v\n%s", tc.name, recovery, got, tc.recovered, second.log)
			}
		})
	}
}
