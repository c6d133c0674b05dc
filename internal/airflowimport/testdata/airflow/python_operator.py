"""PythonOperator with op_args and templated op_kwargs, and a helper it calls."""
from datetime import datetime
import os.path

from airflow import DAG
from airflow.operators.python import PythonOperator

SCALE = 10


def double(x):
    return 2 * int(x)


def compute(n, day, **context):
    print("day", day, "run", context["run_id"], os.path.basename("/a/b"))
    return {"value": double(n) * SCALE}


def show(value):
    print("value is", value)


with DAG("python_operator", start_date=datetime(2024, 1, 1), schedule=None):
    c = PythonOperator(task_id="compute", python_callable=compute, op_args=[3], op_kwargs={"day": "{{ ds }}"})
    s = PythonOperator(task_id="show", python_callable=show, op_kwargs={"value": c.output})
