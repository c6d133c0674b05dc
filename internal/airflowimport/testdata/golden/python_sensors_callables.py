"""Python functions of a DAG converted from testdata/airflow/python_sensors.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json
import os


class PokeReturnValue:
    """Airflow's PokeReturnValue, for the sensor functions of this module."""

    def __init__(self, is_done, xcom_value=None):
        self.is_done = is_done
        self.xcom_value = xcom_value


def marker_exists(path, ds=None):
    print("looking for", path, "on", ds)
    return os.path.exists(path)


def param_marker_exists(**context):
    return os.path.exists(context["params"]["path"])


def decorated() -> PokeReturnValue:
    return PokeReturnValue(is_done=os.path.isdir("/tmp"), xcom_value="tmp is there")


def after():
    print("both sensors passed")


def _sirocco_invoke(name, arguments, params_json, xcoms):
    """Calls the module's function name with a task command's arguments and
    the Airflow context values it asks for; returns its result."""
    import datetime
    import os
    fn = globals()[name]
    call = json.loads(arguments)
    env = os.environ
    logical = datetime.datetime.fromisoformat(env.get("SIROCCO_CTX_LOGICAL_DATE", "1970-01-01T00:00:00+00:00").replace("Z", "+00:00"))
    context = {"dag_id": env.get("SIROCCO_CTX_DAG_ID"), "task_id": env.get("SIROCCO_CTX_TASK_ID"),
               "run_id": env.get("SIROCCO_CTX_DAG_RUN_ID"), "try_number": int(env.get("SIROCCO_CTX_TRY_NUMBER", "1")),
               "logical_date": logical, "ds": logical.strftime("%Y-%m-%d"), "ds_nodash": logical.strftime("%Y%m%d"),
               "ts": logical.isoformat(), "params": json.loads(params_json or "{}")}
    args = list(call.get("op_args") or [])
    kwargs = dict(call.get("op_kwargs") or {})
    pulled = iter(json.loads(x) for x in xcoms)
    for i in call.get("xcom_args") or []:
        args[i] = next(pulled)
    for k in call.get("xcom_kwargs") or []:
        kwargs[k] = next(pulled)
    params = inspect.signature(fn).parameters
    for k, v in context.items():
        if k not in kwargs and (k in params or any(p.kind == p.VAR_KEYWORD for p in params.values())):
            kwargs[k] = v
    return fn(*args, **kwargs)

def _sirocco_poke(name, arguments, params_json, *xcoms):
    """Runs a sensor's function once from a bash_sensor's command: exits 0
    when it is done, 99 (the task's retry_exit_code) when not yet; an error
    fails the try."""
    import sys
    result = _sirocco_invoke(name, arguments, params_json, xcoms)
    done = result.is_done if isinstance(result, PokeReturnValue) else bool(result)
    print("done" if done else "not yet")
    sys.exit(0 if done else 99)
