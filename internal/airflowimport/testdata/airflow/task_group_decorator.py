"""@task_group called twice (ids get a suffix), TaskFlow inside."""
from datetime import datetime

from airflow.decorators import dag, task, task_group


@dag(start_date=datetime(2024, 1, 1), schedule=None, catchup=False)
def task_group_decorator():
    @task
    def begin():
        return "go"

    @task_group(tooltip="one section")
    def section(signal):
        @task
        def work(value):
            return value + "!"

        @task
        def confirm(value):
            print("confirmed", value)

        confirm(work(signal))

    s = begin()
    section(s) >> section(s)


task_group_decorator()
