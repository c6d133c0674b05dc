from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator


def helper():
    raise ValueError("config file missing")


with DAG("raises", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="a", bash_command=helper())
