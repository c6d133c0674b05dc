"""depends_on_past, wait_for_downstream and ignore_first_depends_on_past (in default_args and
on tasks), and LatestOnlyOperator, as in Airflow's tutorial and example_latest_only_with_trigger."""
import datetime

import pendulum

from airflow.models.dag import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.latest_only import LatestOnlyOperator
from airflow.utils.trigger_rule import TriggerRule

default_args = {
    "depends_on_past": True,
    "retries": 1,
    "retry_delay": datetime.timedelta(minutes=5),
}

with DAG(
    dag_id="cross_run_classic",
    schedule=datetime.timedelta(hours=4),
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    default_args=default_args,
    tags=["example3"],
) as dag:
    load = BashOperator(task_id="load", bash_command="echo load {{ ds }}", wait_for_downstream=True)
    check = BashOperator(task_id="check", bash_command="echo check {{ ds }}", depends_on_past=False,
                         ignore_first_depends_on_past=True)
    latest_only = LatestOnlyOperator(task_id="latest_only")
    task1 = EmptyOperator(task_id="task1")
    task2 = EmptyOperator(task_id="task2", depends_on_past=False)
    task3 = EmptyOperator(task_id="task3")
    task4 = EmptyOperator(task_id="task4", trigger_rule=TriggerRule.ALL_DONE)

    load >> check >> latest_only >> task1 >> [task3, task4]
    task2 >> [task3, task4]
