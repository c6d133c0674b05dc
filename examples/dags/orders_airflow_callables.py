"""Python functions of a DAG converted from examples/airflow/orders_airflow.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def count(region, ds=None):
    return {"region": region, "day": ds, "orders": len(region) * 3}


def total(*counts):
    return sum(c["orders"] for c in counts)


def big_day(n):
    return "celebrate" if int(n) > 20 else "carry_on"


def _total_task(*args, **kwargs):
    """Task total: XCom arguments arrive as JSON text."""
    return _sirocco_call(total, [0, 1], [], args, kwargs)


def _sirocco_call(fn, json_args, json_kwargs, args, kwargs):
    """Decodes the JSON arguments and calls fn with the context values it names."""
    args = [json.loads(a) if i in json_args and isinstance(a, str) else a for i, a in enumerate(args)]
    for k in json_kwargs:
        if isinstance(kwargs.get(k), str):
            kwargs[k] = json.loads(kwargs[k])
    params = inspect.signature(fn).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


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

def _sirocco_decide(name, arguments, mode, params_json, *xcoms):
    """Runs a branch or short_circuit function from a task's command and
    prints its answer as the last line (see README, Branching)."""
    result = _sirocco_invoke(name, arguments, params_json, xcoms)
    print()
    if mode == "short_circuit":
        print("true" if result else "false")
    elif result is None:
        print("[]")
    elif isinstance(result, str):
        print(result)
    else:
        print(json.dumps(list(result)))
