"""Airflow 3 style: everything from airflow.sdk."""
from datetime import datetime

from airflow.sdk import DAG, chain, task
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="sdk_airflow3", start_date=datetime(2025, 1, 1), schedule="0 6 * * *", catchup=False,
         max_active_runs=1, tags=["airflow3"]):
    start = EmptyOperator(task_id="start")

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def total(values):
        return sum(values)

    report = BashOperator(task_id="report", bash_command="echo total={{ ti.xcom_pull(task_ids='total') }}")
    end = EmptyOperator(task_id="end")
    chain(start, total(numbers()), report, end)
