"""Dynamic task mapping (.expand) is not converted yet."""
from datetime import datetime

from airflow.decorators import dag, task, task_group
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

    @task
    def add(x, y):
        return x + y

    add.expand_kwargs([{"x": 1, "y": 2}, {"x": 3, "y": 4}])

    @task_group
    def per_item(item):
        @task
        def show(v):
            print(v)

        show(item)

    per_item.expand(item=[1, 2])


unsupported_mapping()
