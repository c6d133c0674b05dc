package airflowimport

import (
	"strings"
)

// deadlineReferences maps Airflow 3's DeadlineReference to Sirocco's
// references of a DAG's deadline; the others have no equivalent.
var deadlineReferences = map[string]string{
	"DAGRUN_LOGICAL_DATE": "logical_date",
	"DAGRUN_QUEUED_AT":    "queued_at",
}

// deadline converts the DAG's deadline=DeadlineAlert(...) (or a list of
// one); nil when it does not convert (reported).
func (c *converter) deadline(v any) any {
	loc := c.d.Loc
	if l, ok := v.([]any); ok {
		if len(l) == 0 {
			return nil
		}
		for _, extra := range l[1:] {
			c.add(loc, "", "deadline: a second DeadlineAlert ("+truncate(describe(extra), 40)+") is not converted",
				"Sirocco has one deadline per DAG: keep the earliest, or alert from a task's deadline")
		}
		v = l[0]
	}
	if kind(v) != "object" || str(field(v, "class")) != "DeadlineAlert" {
		c.add(loc, "", "deadline="+truncate(describe(v), 60)+" is not converted", "write deadline: {reference, interval, callback}")
		return nil
	}
	kw, _ := field(v, "kwargs").(map[string]any)
	if args, _ := field(v, "args").([]any); len(args) > 0 {
		kw = merged(kw, positional(args, "reference", "interval", "callback"))
	}
	ref := c.deadlineReference(kw["reference"])
	if ref == "" {
		return nil
	}
	interval, err := durationValue(kw["interval"])
	secs, _ := number(field(kw["interval"], "seconds"))
	if kw["interval"] == nil || err != nil || kind(kw["interval"]) == "timedelta" && secs <= 0 {
		c.add(loc, "", "deadline: interval: "+errText(err, "missing or not positive")+"; not converted", "give interval=timedelta(...), positive")
		return nil
	}
	callback := c.deadlineCallback(kw["callback"], kw["callback_kwargs"])
	if len(callback) == 0 {
		return nil
	}
	m := newMap()
	m.put("reference", ref)
	m.put("interval", interval)
	if len(callback) == 1 {
		m.put("callback", callback[0])
	} else {
		m.put("callback", callback)
	}
	return m
}

func positional(args []any, names ...string) map[string]any {
	out := map[string]any{}
	for i, a := range args {
		if i < len(names) {
			out[names[i]] = a
		}
	}
	return out
}

func errText(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

func (c *converter) deadlineReference(v any) string {
	name := str(field(v, "name"))
	if kind(v) != "deadline_ref" {
		name = truncate(describe(v), 60)
	}
	if ref, ok := deadlineReferences[name]; ok {
		return ref
	}
	hint := "use DeadlineReference.DAGRUN_LOGICAL_DATE or DAGRUN_QUEUED_AT (logical_date, queued_at), or run_start"
	if name == "FIXED_DATETIME" {
		hint = "a fixed time is not a run's deadline in Sirocco: write an interval after logical_date, queued_at or run_start"
	}
	c.add(c.d.Loc, "", "deadline: the reference "+name+" is not converted", hint)
	return ""
}

// deadlineCallback converts a DeadlineAlert's callback: a notifier, a
// notifier class with its kwargs (AsyncCallback(SlackWebhookNotifier,
// kwargs={...}), or Airflow 3.1's callback_kwargs).
func (c *converter) deadlineCallback(v, kwargs any) []any {
	if cls := str(field(v, "class")); kind(v) == "object" && (cls == "AsyncCallback" || cls == "SyncCallback") {
		args, _ := field(v, "args").([]any)
		kw, _ := field(v, "kwargs").(map[string]any)
		target := kw["callback_callable"]
		if len(args) > 0 {
			target = args[0]
		}
		if k, ok := kw["kwargs"]; ok {
			kwargs = k
		}
		v = target
	}
	if kind(v) == "callable" {
		if _, ok := notifierClasses[str(field(v, "name"))]; ok {
			kw, _ := kwargs.(map[string]any)
			v = map[string]any{"__kind__": "object", "class": str(field(v, "name")), "kwargs": kw}
		}
	}
	if v == nil {
		c.add(c.d.Loc, "", "deadline: no callback; not converted", "give callback=AsyncCallback(SmtpNotifier, kwargs={...})")
		return nil
	}
	return c.notifiers(c.d.Loc, "", "deadline.callback", v)
}

// slaProblem reports Airflow 2's sla, which has no Sirocco key: a task's
// SLA counts from the end of the run's data interval, a Sirocco deadline
// from logical_date (its start), queued_at or run_start, for the whole run.
func (c *converter) slaProblem(loc, task string, v any) {
	d, err := durationValue(v)
	if err != nil || isDefault(v) {
		return
	}
	sched := str(c.d.Kwargs["schedule"])
	if sched == "" {
		sched = str(c.d.Kwargs["schedule_interval"])
	}
	period := schedulePeriods[strings.TrimSpace(sched)]
	interval := "<the schedule's period + " + d + ">"
	if period > 0 {
		if secs, ok := number(field(v, "seconds")); ok || kind(v) == "" {
			if !ok {
				secs, _ = number(v)
			}
			interval = duration(period + secs)
		}
	}
	c.add(loc, task, "sla="+d+": not converted: Sirocco has no per-task SLA",
		"alert when the whole run is late with the DAG's deadline: {reference: logical_date, interval: "+interval+
			", callback: {command: ...}} (Airflow counts an SLA from the end of the data interval), or bound the task with execution_timeout")
}

// schedulePeriods are the presets' periods, in seconds.
var schedulePeriods = map[string]float64{"@hourly": 3600, "@daily": 86400, "@midnight": 86400, "@weekly": 7 * 86400}
