"""TaskFlow functions asking for context values: a dict return annotation
means multiple_outputs, as in Airflow; ti is reported (Sirocco does not pass it)."""
from typing import Dict

import pendulum

from airflow.decorators import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False)
def taskflow_context():
    @task
    def stats(ds=None, run_id=None) -> Dict[str, int]:
        return {"day_len": len(ds), "run_len": len(run_id)}

    @task
    def show(day_len, ti=None):
        print("day_len", day_len, ti)

    show(stats()["day_len"])


taskflow_context()
