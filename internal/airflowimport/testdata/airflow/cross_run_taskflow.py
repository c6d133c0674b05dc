"""TaskFlow with depends_on_past in default_args and on @task, and a LatestOnlyOperator."""
import pendulum

from airflow.decorators import dag, task
from airflow.operators.latest_only import LatestOnlyOperator


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"depends_on_past": True, "ignore_first_depends_on_past": True},
)
def cross_run_taskflow():
    @task(wait_for_downstream=True)
    def extract():
        return {"rows": 3}

    @task
    def transform(data: dict):
        return data["rows"] * 2

    @task(depends_on_past=False)
    def publish(total):
        print("publishing", total)

    latest = LatestOnlyOperator(task_id="latest_only")
    total = transform(extract())
    latest >> publish(total)


cross_run_taskflow()
