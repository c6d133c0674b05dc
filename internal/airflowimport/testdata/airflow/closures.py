"""@task functions made by a factory in a loop: each task keeps the values it closes over."""
from datetime import datetime

from airflow.decorators import dag, task

REGIONS = ["eu", "us"]


def make_export(region, limit):
    @task(task_id="export_" + region)
    def export():
        return "%s:%d" % (region, limit)
    return export()


@dag(schedule=None, start_date=datetime(2024, 1, 1))
def closures():
    for i, region in enumerate(REGIONS):
        make_export(region, 10 * (i + 1))


closures()
