"""Python functions of a DAG converted from testdata/airflow/trigger_dagrun_sdk.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def message() -> str:
    return "from trigger_sdk"
