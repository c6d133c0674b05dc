"""Airflow 3 sensors (providers.standard, providers.http) in the TaskFlow style."""
import pendulum
from datetime import timedelta

from airflow.sdk import dag, task
from airflow.providers.http.sensors.http import HttpSensor
from airflow.providers.standard.sensors.bash import BashSensor
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), tags=["sensors"])
def sensors_sdk():
    api_ready = HttpSensor(task_id="api_ready", http_conn_id="api", endpoint="health",
                           request_params={"probe": "{{ ds }}"}, headers={"Accept": "application/json"},
                           response_check=lambda response: response.json()["status"] == "ready",
                           poke_interval=timedelta(seconds=1), timeout=60, mode="poke")
    api_says_ok = HttpSensor(task_id="api_says_ok", http_conn_id="api", endpoint="health",
                             response_check=lambda r: r.status_code == 200 and "ok" in r.text, poke_interval=1)
    file_here = FileSensor(task_id="file_here", filepath="/etc/*wd", poke_interval=1)
    now = TimeDeltaSensor(task_id="now", delta=timedelta(seconds=0), mode="reschedule", poke_interval=1)
    shell_ok = BashSensor(task_id="shell_ok", bash_command="exit 0", retry_exit_code=99, poke_interval=1)
    # Reported: a function computing the date has no YAML form.
    not_run = ExternalTaskSensor(task_id="other_dag", external_dag_id="other", external_task_ids=["a", "b"],
                                 execution_date_fn=lambda dt: dt, timeout=1, poke_interval=1, soft_fail=True)

    @task
    def done():
        print("every sensor passed")

    [api_ready, api_says_ok, file_here, now, shell_ok] >> done()
    not_run


sensors_sdk()
