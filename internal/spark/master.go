package spark

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MasterState is the master web UI's /json/ document: the cluster's
// workers, applications and drivers. Memory is in MiB.
type MasterState struct {
	URL              string       `json:"url"`    // spark://host:port
	Status           string       `json:"status"` // ALIVE, STANDBY, RECOVERING…
	Workers          []WorkerInfo `json:"workers"`
	AliveWorkers     int          `json:"aliveworkers"`
	Cores            int          `json:"cores"`
	CoresUsed        int          `json:"coresused"`
	Memory           int          `json:"memory"`
	MemoryUsed       int          `json:"memoryused"`
	ActiveApps       []AppInfo    `json:"activeapps"`
	CompletedApps    []AppInfo    `json:"completedapps"`
	ActiveDrivers    []DriverInfo `json:"activedrivers"`
	CompletedDrivers []DriverInfo `json:"completeddrivers"`
}

// WorkerInfo describes one worker registered with the master.
type WorkerInfo struct {
	ID            string `json:"id"`
	Host          string `json:"host"`
	Port          int    `json:"port"`
	WebUIAddress  string `json:"webuiaddress"` // serves the logs of its drivers
	Cores         int    `json:"cores"`
	CoresUsed     int    `json:"coresused"`
	CoresFree     int    `json:"coresfree"`
	Memory        int    `json:"memory"`
	MemoryUsed    int    `json:"memoryused"`
	MemoryFree    int    `json:"memoryfree"`
	State         string `json:"state"` // ALIVE, DEAD, DECOMMISSIONED, UNKNOWN
	LastHeartbeat int64  `json:"lastheartbeat"`
}

// AppInfo describes one application (a SparkContext) registered with the
// master.
type AppInfo struct {
	ID                string        `json:"id"` // app-…
	StartTime         time.Time     `json:"-"`
	Name              string        `json:"name"`
	Cores             int           `json:"cores"` // its maximum (spark.cores.max)
	User              string        `json:"user"`
	MemoryPerExecutor int           `json:"memoryperexecutor"`
	SubmitDate        string        `json:"submitdate"`
	State             string        `json:"state"` // WAITING, RUNNING, FINISHED, FAILED, KILLED
	Duration          time.Duration `json:"-"`
}

// DriverInfo describes one driver submitted in cluster mode.
type DriverInfo struct {
	ID         string    `json:"id"` // driver-…, the submission id
	StartTime  time.Time `json:"-"`
	State      string    `json:"state"` // as DriverStatus.State
	Cores      int       `json:"cores"`
	Memory     int       `json:"memory"`
	SubmitDate string    `json:"submitdate"`
	Worker     string    `json:"worker"` // worker id; empty while queued
	MainClass  string    `json:"mainclass"`
}

// epochMillis decodes Spark's millisecond timestamps and durations, which
// its JSON writes as numbers for applications and as strings for drivers.
type epochMillis int64

func (m *epochMillis) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("milliseconds %s: %w", b, err)
	}
	*m = epochMillis(n)
	return nil
}

func (m epochMillis) time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m))
}

func (a *AppInfo) UnmarshalJSON(b []byte) error {
	type plain AppInfo // without this method
	var v struct {
		plain
		StartTime epochMillis `json:"starttime"`
		Duration  epochMillis `json:"duration"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = AppInfo(v.plain)
	a.StartTime = v.StartTime.time()
	a.Duration = time.Duration(v.Duration) * time.Millisecond
	return nil
}

func (d *DriverInfo) UnmarshalJSON(b []byte) error {
	type plain DriverInfo
	var v struct {
		plain
		StartTime epochMillis `json:"starttime"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = DriverInfo(v.plain)
	d.StartTime = v.StartTime.time()
	return nil
}

// Master returns the cluster state from the master web UI. The master
// keeps only its most recent completed drivers and applications
// (spark.deploy.retainedDrivers, spark.deploy.retainedApplications), so an
// old driver can be missing here while Status still knows it.
func (c *Client) Master(ctx context.Context) (MasterState, error) {
	var st MasterState
	if c.MasterUIURL == "" {
		return st, fmt.Errorf("spark: master state: no master UI URL configured")
	}
	err := c.getJSON(ctx, "master state", strings.TrimRight(c.MasterUIURL, "/")+"/json/", &st)
	return st, err
}

// Driver returns the master's record of driver id, active or completed,
// and false if the master lists no such driver.
func (s MasterState) Driver(id string) (DriverInfo, bool) {
	for _, list := range [][]DriverInfo{s.ActiveDrivers, s.CompletedDrivers} {
		for _, d := range list {
			if d.ID == id {
				return d, true
			}
		}
	}
	return DriverInfo{}, false
}

// App returns the master's record of application id, active or
// completed, and false if the master lists no such application.
func (s MasterState) App(id string) (AppInfo, bool) {
	for _, list := range [][]AppInfo{s.ActiveApps, s.CompletedApps} {
		for _, a := range list {
			if a.ID == id {
				return a, true
			}
		}
	}
	return AppInfo{}, false
}

// WorkerWebUI returns the web UI address of worker workerID (from
// DriverStatus.WorkerID), where its drivers' logs are served. An unknown
// worker is an error wrapping ErrNotFound.
func (c *Client) WorkerWebUI(ctx context.Context, workerID string) (string, error) {
	st, err := c.Master(ctx)
	if err != nil {
		return "", err
	}
	for _, w := range st.Workers {
		if w.ID == workerID {
			if w.WebUIAddress == "" {
				return "", fmt.Errorf("spark: worker %s has no web UI address", workerID)
			}
			return w.WebUIAddress, nil
		}
	}
	return "", &Error{Op: "web UI of worker " + workerID, Err: ErrNotFound}
}

// appIDMarker precedes the application id in a driver's log: the line
// StandaloneSchedulerBackend logs at INFO once the master has registered
// the application.
const appIDMarker = "Connected to Spark cluster with app ID "

// maxAppIDScan bounds how much of a driver's stderr AppIDForDriver reads.
const maxAppIDScan = 64 << 20

// AppIDForDriver returns the id of the application (app-…) that driver
// driverID started. The master records no link between the two (its JSON
// lists drivers and applications separately, and an application's name is
// whatever the code sets), so the link is read from the driver's stderr,
// where Spark logs "Connected to Spark cluster with app ID app-…" once the
// application is registered. The id is the first such line: a driver that
// creates several SparkContexts in turn has several applications. Until the
// application registers (or if the driver's log level hides INFO messages
// of org.apache.spark.scheduler.cluster.StandaloneSchedulerBackend), the
// error wraps ErrNotFound; poll again while the driver runs.
func (c *Client) AppIDForDriver(ctx context.Context, driverID string) (string, error) {
	st, err := c.Status(ctx, driverID)
	if err != nil {
		return "", err
	}
	if st.WorkerID == "" {
		return "", &Error{Op: "application of " + driverID,
			Message: "the driver has not been launched yet", Err: ErrNotFound}
	}
	ui, err := c.WorkerWebUI(ctx, st.WorkerID)
	if err != nil {
		return "", err
	}
	var (
		offset int64
		carry  string // the unfinished last line of the previous chunk
	)
	for offset < maxAppIDScan {
		data, next, total, err := c.DriverLog(ctx, ui, driverID, Stderr, offset)
		if err != nil {
			return "", err
		}
		text := carry + string(data)
		if i := strings.Index(text, appIDMarker); i >= 0 {
			rest := text[i+len(appIDMarker):]
			if end := strings.IndexAny(rest, " \t\r\n"); end >= 0 {
				return rest[:end], nil
			}
			if next >= total {
				return strings.TrimSpace(rest), nil
			}
			// The id runs past this chunk: read on with the marker carried.
		}
		if next >= total || next == offset {
			break
		}
		carry = text[strings.LastIndexByte(text, '\n')+1:]
		offset = next
	}
	return "", &Error{Op: "application of " + driverID,
		Message: "no application registered in the driver's log yet", Err: ErrNotFound}
}
