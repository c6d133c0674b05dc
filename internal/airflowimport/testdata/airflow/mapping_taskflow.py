"""Dynamic task mapping of @task functions, as in Airflow's docs."""
from datetime import datetime

from airflow.decorators import dag, task


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def mapping_taskflow():
    @task
    def add(x: int, y: int):
        return x + y

    @task
    def make_pairs():
        return [{"x": 1, "y": 2}, {"x": 10, "y": 20}]

    @task
    def total(values):
        print(sum(values))
        return sum(values)

    # partial + expand: x=1, y in 1, 2, 3.
    added = add.partial(x=1).expand(y=[1, 2, 3])
    total(added)

    # several lists: the cross product (4 instances).
    add.override(task_id="cross", max_active_tis_per_dag=2).expand(x=[1, 2], y=[10, 20])

    # expand_kwargs over literal dicts and over an upstream task's output.
    add.override(task_id="literal_kwargs").expand_kwargs([{"x": 1, "y": 1}, {"x": 2, "y": 2}])
    add.override(task_id="xcom_kwargs").expand_kwargs(make_pairs())


mapping_taskflow()
