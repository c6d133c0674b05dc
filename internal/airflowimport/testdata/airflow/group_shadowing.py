"""A top-level task and a group's task with the same short id: reported."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.utils.task_group import TaskGroup

with DAG("group_shadowing", start_date=datetime(2024, 1, 1), schedule=None):
    prepare = BashOperator(task_id="prepare", bash_command="echo top")
    with TaskGroup("g"):
        inner = BashOperator(task_id="prepare", bash_command="echo inner")
        use = BashOperator(task_id="use", bash_command="echo use")
    prepare >> use
