"""Airflow's value classes a DAG file uses while it is defined (Param, Variable, days_ago,
TriggerRule, the state names), for the shim; sirocco_af_core re-exports them."""
import datetime as _dt


class Param:
    """Airflow's Param: a default with a JSON schema."""

    def __init__(self, default=None, description=None, **schema):
        self.default = default
        self.description = description
        self.schema = schema


class ParamsDict(dict):
    pass


class Variable:
    """Variables do not exist while converting: get() returns the default or a template."""

    @staticmethod
    def get(key, default_var=None, deserialize_json=False, default=None):
        d = default if default is not None else default_var
        if d is not None:
            return d
        return "{{ var.value.%s }}" % key

    @staticmethod
    def set(key, value, serialize_json=False):
        pass


class DaysAgo(_dt.datetime):
    """A days_ago() date: a fixed date in Sirocco, said so in the report."""
    days_ago = 0


def days_ago(n, hour=0, minute=0, second=0, microsecond=0):
    today = _dt.datetime.now(_dt.timezone.utc).replace(hour=hour, minute=minute, second=second,
                                                       microsecond=microsecond)
    d = today - _dt.timedelta(days=n)
    out = DaysAgo(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=d.tzinfo)
    out.days_ago = n
    return out


class TriggerRule:
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_OR_SKIPPED = "none_failed_or_skipped"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALL_SKIPPED = "all_skipped"
    ALWAYS = "always"
    DUMMY = "dummy"


class DagRunState:
    """airflow.utils.state.DagRunState (TriggerDagRunOperator's allowed_states): the state names."""
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class RunState(DagRunState):
    """airflow.utils.state.State and TaskInstanceState: the state names."""
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    REMOVED = "removed"
    SCHEDULED = "scheduled"
    DEFERRED = "deferred"
    RESTARTING = "restarting"
    NONE = None
