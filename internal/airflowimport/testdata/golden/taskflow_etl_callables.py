"""Python functions of a DAG converted from testdata/airflow/taskflow_etl.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def extract():
    data_string = '{"1001": 301.27, "1002": 433.21, "1003": 502.22}'
    return json.loads(data_string)


def transform(order_data_dict: dict):
    total_order_value = 0
    for value in order_data_dict.values():
        total_order_value += value
    return {"total_order_value": total_order_value}


def load(total_order_value: float):
    print(f"Total order value is: {total_order_value:.2f}")


def _transform_task(*args, **kwargs):
    """Task transform: XCom arguments arrive as JSON text."""
    return _sirocco_call(transform, [0], [], args, kwargs)


def _load_task(*args, **kwargs):
    """Task load: XCom arguments arrive as JSON text."""
    return _sirocco_call(load, [0], [], args, kwargs)


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
