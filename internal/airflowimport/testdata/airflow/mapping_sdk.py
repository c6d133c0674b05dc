"""Dynamic task mapping in Airflow 3's style (airflow.sdk), with PythonOperator."""
import pendulum

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, XComArg, task


def greet(name, greeting="hello"):
    print(f"{greeting} {name}")
    return f"{greeting} {name}"


with DAG("mapping_sdk", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         default_args={"max_active_tis_per_dag": 3}):

    @task
    def commands():
        return ["echo one", "echo two", "echo three"]

    @task
    def base():
        return 100

    @task
    def shift(offset, x):
        return offset + x

    # A classic operator over a @task's return value.
    BashOperator.partial(task_id="run_commands").expand(bash_command=commands())

    # An explicit XComArg of a classic task.
    names = BashOperator(task_id="names", bash_command="echo '[{\"name\": \"ada\"}, {\"name\": \"bob\"}]'")
    PythonOperator.partial(task_id="greet_each", python_callable=greet).expand(op_kwargs=XComArg(names))

    # PythonOperator over literal op_args and op_kwargs.
    PythonOperator.partial(task_id="greet_args", python_callable=greet).expand(op_args=[["ada"], ["bob", "hi"]])
    PythonOperator.partial(task_id="greet_kwargs", python_callable=greet).expand_kwargs(
        [{"op_kwargs": {"name": "cy", "greeting": "hey"}}, {"op_args": ["dee"]}]
    )

    # A partial argument from an upstream task's XCom, the mapped one literal.
    shift.partial(offset=base()).expand(x=[1, 2])
