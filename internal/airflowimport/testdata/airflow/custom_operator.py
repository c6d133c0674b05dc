"""An operator class defined in the DAG file has no Sirocco equivalent."""
from datetime import datetime

from airflow import DAG
from airflow.models import BaseOperator
from airflow.operators.bash import BashOperator


class HelloOperator(BaseOperator):
    def __init__(self, name, **kwargs):
        super().__init__(**kwargs)
        self.name = name

    def execute(self, context):
        return "Hello " + self.name


with DAG("custom_operator", start_date=datetime(2024, 1, 1), schedule=None):
    hello = HelloOperator(task_id="hello", name="world")
    after = BashOperator(task_id="after", bash_command="echo after")
    hello >> after
