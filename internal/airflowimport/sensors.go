package airflowimport

import (
	"fmt"
	"regexp"
	"strings"
)

// special converts the arguments that are neither a field of the task's
// operator nor a common key: callbacks and e-mail (see callbacks), assets,
// sla, and the sensors' arguments with another form in Sirocco. It reports
// whether it took k.
func (c *converter) special(t TaskIR, r opRule, k string, v any, out map[string]any) bool {
	switch {
	case isCallbackArg(k):
		return true // converted by the task with the inherited values
	case k == "outlets" || k == "inlets":
		if !isDefault(v) {
			if refs := c.assetRefs(t.Loc, t.TaskID, k, v); refs != nil {
				out[k] = refs
			}
		}
		return true
	case k == "sla":
		c.slaProblem(t.Loc, t.TaskID, v)
		return true
	case r.Operator == "file_sensor" && k == "fs_conn_id":
		if s := str(v); s != "" && s != "fs_default" {
			c.add(t.Loc, t.TaskID, fmt.Sprintf("fs_conn_id=%s: the connection's base path is not prepended to filepath", s),
				"write the whole path in filepath (a relative one is under the DAG file's folder)")
		}
		return true
	case r.Operator == "file_sensor" && k == "recursive":
		if b, _ := v.(bool); b && strings.Contains(str(t.Kwargs["filepath"]), "**") {
			c.add(t.Loc, t.TaskID, "recursive=True: ** in filepath matches one folder level in Sirocco, not any depth",
				"write the glob for the folder itself: a matching folder counts once it holds a file at any depth")
		}
		return true
	}
	return false
}

// responseCheck converts a response_check lambda the shim could read
// ({status}, {contains}, {json_path, equals}) to Sirocco's check.
func (c *converter) responseCheck(t TaskIR, v any) any {
	chk, _ := field(v, "check").(map[string]any)
	if chk == nil || chk["error"] != nil {
		why := "it is not a lambda"
		if chk != nil {
			why = str(chk["error"])
		}
		c.add(t.Loc, t.TaskID, fmt.Sprintf("response_check=%s is not converted: %s", describe(v), why), fieldHints["response_check"])
		return nil
	}
	out := map[string]any{}
	for _, k := range sortedKeys(chk) {
		switch k {
		case "status", "json_path", "equals":
			p, err := plain(chk[k])
			if err != nil {
				c.add(t.Loc, t.TaskID, "response_check: "+err.Error(), fieldHints["response_check"])
				return nil
			}
			out[k] = p
		case "contains":
			out["regex"] = regexp.QuoteMeta(str(chk[k]))
		}
	}
	if len(out) == 0 {
		return nil // always true: the default check (a 2xx status)
	}
	return out
}
