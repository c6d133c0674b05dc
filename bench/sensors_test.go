package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/testenv"
)

// sensorsDAG is n date_time_sensor tasks in reschedule mode that never
// succeed (their target is far away), each poking every interval.
func sensorsDAG(id string, n int, interval time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dag_id: %s\nschedule: none\nmax_active_tasks: 32\ntasks:\n", id)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: s%04d, operator: date_time_sensor, target_time: '2099-01-01', mode: reschedule, poke_interval: %s}\n",
			i, interval)
	}
	return b.String()
}

// BenchmarkRescheduleSensors1000 waits with 1,000 reschedule-mode
// sensors at once (parallelism 32: they share 32 slots, which a sensor
// holds only while it pokes). Once each has poked, it measures over three
// poke intervals this process's CPU (scheduler, local executor and
// sensors; PostgreSQL's server apart) per poke interval, the pokes made
// per interval, and the process's RSS.
func BenchmarkRescheduleSensors1000(b *testing.B) {
	const n, interval, windows = 1000, 10 * time.Second, 3
	backends(b, func(b *testing.B, dsn string) {
		for b.Loop() {
			r := startEngine(b, dsn, map[string]string{"sensors1000": sensorsDAG("sensors1000", n, interval)})
			runID, _ := r.trigger("sensors1000")
			pokes := func() (total, waiting int) {
				list, err := r.st.ListTaskInstances(context.Background(), "sensors1000", runID)
				if err != nil {
					b.Fatal(err)
				}
				for _, ti := range list {
					total += ti.Pokes
					if ti.Pokes > 0 {
						waiting++
					}
				}
				return total, waiting
			}
			testenv.Eventually(b, "every sensor to poke once", 5*time.Minute, func() (bool, string) {
				_, waiting := pokes()
				return waiting == n, fmt.Sprintf("%d of %d have poked", waiting, n)
			})
			resetPeakRSS(b)
			cpu0, pokes0 := processCPU(b), 0
			pokes0, _ = pokes()
			pg0, pgOK := postgresCPU(dsn)
			start := time.Now()
			time.Sleep(windows * interval) // the measured window: nothing to wait for but time
			wall := time.Since(start)
			cpu := processCPU(b) - cpu0
			pokes1, _ := pokes()
			perInterval := float64(interval) / float64(wall)
			b.ReportMetric(ms(cpu)*perInterval, "cpu-ms/interval")
			b.ReportMetric(float64(pokes1-pokes0)*perInterval, "pokes/interval")
			if pg1, ok := postgresCPU(dsn); ok && pgOK {
				b.ReportMetric(ms(pg1-pg0)*perInterval, "pg-cpu-ms/interval")
			}
			rss, err := procStatusKB("self", "VmRSS")
			if err != nil {
				b.Fatal(err)
			}
			hwm, err := procStatusKB("self", "VmHWM")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rss)/1024, "rss-MB")
			b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")
			tis := r.taskInstances("sensors1000", runID)
			if ti := tis["s0000"]; ti.TryNumber != 1 {
				b.Errorf("s0000 is %s at try %d, want 1: a reschedule spent a try", ti.State, ti.TryNumber)
			}
		}
	})
}
