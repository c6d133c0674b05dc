"""Dynamic task mapping that Sirocco's expand cannot write stays reported."""
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
    echo = BashOperator.partial(task_id="echo").expand(bash_command=files().map(lambda f: "echo " + f))
    sizes >> echo

    @task
    def add(x, y):
        return x + y

    add.expand(x=files().zip(files()), y=[1])

    @task_group
    def per_item(item):
        @task
        def show(v):
            print(v)

        show(item)

    per_item.expand(item=[1, 2])
    BashOperator.partial(task_id="not_a_list").expand(bash_command="echo 1")
    BashOperator.partial(task_id="named", map_index_template="{{ task.bash_command }}").expand(bash_command=["echo 1"])
    BashOperator.partial(task_id="no_field", bash_command="echo").expand(output_encoding=["utf-8"])


unsupported_mapping()
