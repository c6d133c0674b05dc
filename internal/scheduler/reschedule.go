package scheduler

import (
	"time"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// EndPokes makes u, the end of a try that is not a sensor's reschedule
// (success, failure, retry), also clear the sensor progress ti carries,
// so the next try's timeout counts from its own first poke (Airflow
// measures a sensor's timeout per try). A row without progress is left
// alone, so other tasks' writes stay as they were.
func EndPokes(u *store.TaskUpdate, ti store.TaskInstance) {
	if ti.Pokes == 0 && ti.FirstPokeAt.IsZero() {
		return
	}
	var zero time.Time
	none := 0
	u.FirstPokeAt, u.Pokes = &zero, &none
}
