package ui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// handleView is a task instance's handle made readable: what kind of work
// it names and the ids and links a user looks for (the pid, the Spark
// driver and application with links to the master's and the application's
// UI, the pod, the remote host).
type handleView struct {
	Kind   string        `json:"kind"`
	Fields []handleField `json:"fields"`
}

// handleField is one line of a handleView; Href is set only for an http or
// https link.
type handleField struct {
	Label string `json:"label"`
	Value string `json:"value"`
	Href  string `json:"href,omitempty"`
}

// maxHandleValue bounds a value shown from a handle: handles are written by
// operators, but the page must stay readable whatever they hold.
const maxHandleValue = 300

// describeHandle reads a stored handle (any operator's, any version) into
// a handleView. It never fails: a handle it cannot read is shown as such.
func describeHandle(raw []byte) handleView {
	var m map[string]any
	if len(raw) == 0 {
		return handleView{Fields: []handleField{}}
	}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return handleView{Kind: "unreadable", Fields: []handleField{{Label: "Stored handle", Value: clip(string(raw))}}}
	}
	v := &handleView{Kind: str(m, "kind"), Fields: []handleField{}}
	v.spark(m)
	v.remote(m)
	v.pod(m)
	if p, ok := m["process"].(map[string]any); ok {
		v.process(p)
	} else {
		v.process(m)
	}
	v.add("Connection", str(m, "conn_id"), "")
	return *v
}

func (v *handleView) add(label, value, href string) {
	if value == "" {
		return
	}
	v.Fields = append(v.Fields, handleField{Label: label, Value: clip(value), Href: webLink(href)})
}

// spark adds a Spark handle's ids and links (internal/operator/spark).
func (v *handleView) spark(m map[string]any) {
	v.add("Spark master", str(m, "master"), str(m, "master_ui"))
	if ui := str(m, "master_ui"); ui != "" && str(m, "master") == "" {
		v.add("Spark master UI", ui, ui)
	}
	v.add("Deploy mode", str(m, "deploy_mode"), "")
	v.add("Spark driver", str(m, "driver_id"), driverLink(str(m, "master_ui"), str(m, "driver_id")))
	v.add("Spark application", str(m, "app_id"), str(m, "spark_ui"))
	if ui := str(m, "spark_ui"); ui != "" && str(m, "app_id") == "" {
		v.add("Spark application UI", ui, ui)
	}
	v.add("Driver pod", str(m, "driver_pod"), "")
	v.add("REST submission server", str(m, "rest_url"), "")
}

// remote adds where a remote job runs: an ssh handle's host, or the ssh
// part of a Spark handle.
func (v *handleView) remote(m map[string]any) {
	if r, ok := m["ssh"].(map[string]any); ok {
		v.add("Remote host", str(r, "host"), "")
		v.add("Remote job", str(r, "job_id"), "")
		v.add("SSH connection", str(r, "ssh_conn_id"), "")
		return
	}
	if v.Kind != "ssh_job" {
		return
	}
	host := str(m, "host")
	if u := str(m, "user"); u != "" && host != "" {
		host = u + "@" + host
	}
	if p := num(m, "port"); p != "" && host != "" {
		host += ":" + p
	}
	v.add("Remote host", host, "")
	v.add("Remote job", str(m, "job_id"), "")
}

// pod adds a Kubernetes pod: a kubernetes_pod handle's, or a Spark
// driver pod's (its k8s part).
func (v *handleView) pod(m map[string]any) {
	k := m
	if sub, ok := m["k8s"].(map[string]any); ok {
		k = sub
	} else if v.Kind != "kubernetes_pod" {
		return
	}
	name := str(k, "name")
	if ns := str(k, "namespace"); ns != "" && name != "" {
		name = ns + "/" + name
	}
	v.add("Pod", name, "")
	v.add("Pod uid", str(k, "uid"), "")
	if end, ok := k["end"].(map[string]any); ok {
		v.add("Exit code", num(end, "exit_code"), "")
		v.add("Reason", str(end, "reason"), "")
	}
}

// process adds a local (or flat, older) process: pid and host.
func (v *handleView) process(m map[string]any) {
	pid := num(m, "pid")
	if pid == "" || pid == "0" {
		return
	}
	v.add("Process id", pid, "")
	if v.Kind == "ssh_job" {
		return // its host is the remote one, already shown
	}
	v.add("Host", str(m, "host"), "")
}

// driverLink is the master UI's page of a standalone driver.
func driverLink(masterUI, driverID string) string {
	if masterUI == "" || driverID == "" {
		return ""
	}
	u, err := url.Parse(masterUI)
	if err != nil {
		return ""
	}
	u = u.JoinPath("driver/")
	u.RawQuery = url.Values{"id": {driverID}}.Encode()
	return u.String()
}

// webLink returns s if it is an absolute http or https URL, else "": a
// handle never makes the page link to javascript: or a file.
func webLink(s string) string {
	if s == "" || len(s) > 2048 {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// num formats a JSON number field as an integer when whole.
func num(m map[string]any, key string) string {
	f, ok := m[key].(float64)
	if !ok {
		return ""
	}
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return fmt.Sprint(f)
}

// clip shortens s to maxHandleValue bytes on a rune boundary and makes it
// valid UTF-8.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxHandleValue {
		return s
	}
	cut := maxHandleValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
