"""Two DAGs from one file, built by a factory (the file really runs)."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator


def make(name, command):
    with DAG(f"factory_{name}", start_date=datetime(2024, 1, 1), schedule=None, tags=["factory"]) as d:
        BashOperator(task_id="run", bash_command=command)
    return d


for name, command in {"alpha": "echo alpha", "beta": "echo beta"}.items():
    globals()[f"dag_{name}"] = make(name, command)
