"""@task.branch with the logical date, as Airflow's example_branch_day_of_week."""
from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def task_branch():
    @task.branch(task_id="weekday_or_not")
    def pick(logical_date=None):
        if logical_date.weekday() < 5:
            return ["weekday"]
        return "weekend"

    weekday = BashOperator(task_id="weekday", bash_command="echo weekday")
    weekend = BashOperator(task_id="weekend", bash_command="echo weekend")
    pick() >> [weekday, weekend]


task_branch()
