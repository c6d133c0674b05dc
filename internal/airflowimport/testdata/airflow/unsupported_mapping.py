"""Dynamic task mapping (.expand) is not converted yet."""
from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def unsupported_mapping():
    @task
    def files():
        return ["a", "b"]

    @task
    def size(name, unit="kb"):
        return len(name)

    sizes = size.partial(unit="mb").expand(name=files())
    echo = BashOperator.partial(task_id="echo").expand(bash_command=["echo 1", "echo 2"])
    sizes >> echo


unsupported_mapping()
