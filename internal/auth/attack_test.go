package auth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/auth"
)

// TestRateLimitHoldsUnderConcurrentGuesses: guesses sent all at once are
// counted as they arrive, not once their slow password checks end, so a
// burst cannot get more than MaxFails passwords checked per window.
func TestRateLimitHoldsUnderConcurrentGuesses(t *testing.T) {
	b := newBed(t)
	b.addUser("ann", auth.Viewer, "correct horse")
	const burst = 20
	statuses := make(chan int, burst)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			js, _ := json.Marshal(map[string]string{"username": "ann", "password": "guess" + string(rune('a'+i))})
			start.Wait()
			resp, err := http.Post(b.srv.URL+"/auth/token", "application/json", strings.NewReader(string(js)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	start.Done()
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] > auth.DefaultMaxFails || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != burst {
		t.Errorf("%d concurrent guesses: %d checked (401), %d refused (429), others %v; want at most %d checked",
			burst, counts[http.StatusUnauthorized], counts[http.StatusTooManyRequests], counts, auth.DefaultMaxFails)
	}
}
