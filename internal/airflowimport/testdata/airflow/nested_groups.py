"""Nested TaskGroups with their own default_args and a tooltip."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("nested_groups", start_date=datetime(2024, 1, 1), schedule=None,
         default_args={"retries": 1, "retry_delay": timedelta(seconds=1)}) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("extract", tooltip="Pull the sources", default_args={"retries": 2}) as extract:
        orders = BashOperator(task_id="orders", bash_command="echo orders")
        customers = BashOperator(task_id="customers", bash_command="echo customers")
        with TaskGroup("clean") as clean:
            dedup = BashOperator(task_id="dedup", bash_command="echo dedup")
            check = BashOperator(task_id="check", bash_command="echo check")
            dedup >> check
        [orders, customers] >> clean
    with TaskGroup("flat", prefix_group_id=False) as flat:
        BashOperator(task_id="flat_one", bash_command="echo one")
    load = BashOperator(task_id="load", bash_command="echo {{ ti.xcom_pull(task_ids='extract.orders') }}")
    start >> extract >> load
    start >> flat
