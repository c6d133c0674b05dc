"""An Airflow DAG to try `sirocco dags import-airflow` on:

    sirocco dags import-airflow examples/airflow/orders_airflow.py --out examples/dags

gives examples/dags/orders_airflow.yaml and orders_airflow_callables.py.
TaskFlow functions, a classic BashOperator, a TaskGroup made in a loop and
a branch, all of which Sirocco runs as they are.
"""
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

REGIONS = ["north", "south"]


@dag(
    dag_id="orders_airflow",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "airflow"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
)
def orders():
    """Orders of a day per region, converted from Airflow."""

    @task
    def count(region, ds=None):
        return {"region": region, "day": ds, "orders": len(region) * 3}

    @task
    def total(*counts):
        return sum(c["orders"] for c in counts)

    @task.branch
    def big_day(n):
        return "celebrate" if int(n) > 20 else "carry_on"

    with TaskGroup("per_region", tooltip="one count per region"):
        counts = [count.override(task_id=f"count_{r}")(r) for r in REGIONS]
    n = total(*counts)
    report = BashOperator(task_id="report", bash_command="echo total {{ ti.xcom_pull(task_ids='total') }} on {{ ds }}")
    choice = big_day(n)
    n >> report
    choice >> [EmptyOperator(task_id="celebrate"), EmptyOperator(task_id="carry_on")]


orders()
