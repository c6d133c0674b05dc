"""Airflow 2 sensors, classic style: each waits for something that already holds, so the DAG runs at once."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.bash import BashSensor
from airflow.sensors.date_time import DateTimeSensor
from airflow.sensors.external_task import ExternalTaskSensor
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.time_delta import TimeDeltaSensor
from airflow.utils.state import State

default_args = {"poke_interval": 1, "timeout": timedelta(minutes=2), "retries": 0}

with DAG("sensors_classic", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         default_args=default_args) as dag:
    wait_file = FileSensor(task_id="wait_file", filepath="/etc/passwd", fs_conn_id="fs_default", mode="reschedule")
    cool_down = TimeDeltaSensor(task_id="cool_down", delta=timedelta(0))
    after_start = DateTimeSensor(task_id="after_start", target_time=datetime(2024, 1, 1, 6, 30))
    after_ds = DateTimeSensor(task_id="after_ds", target_time="{{ ds }}")
    tmp_exists = BashSensor(task_id="tmp_exists", bash_command="test -d /tmp", exponential_backoff=True,
                            max_wait=timedelta(seconds=10))
    # No run of upstream_dag exists: the sensor times out and, with soft_fail, is skipped.
    upstream = ExternalTaskSensor(task_id="upstream_done", external_dag_id="upstream_dag", external_task_id="end",
                                  allowed_states=[State.SUCCESS], failed_states=[State.FAILED, State.UPSTREAM_FAILED],
                                  execution_delta=timedelta(hours=1), timeout=2, soft_fail=True)
    report = BashOperator(task_id="report", bash_command="echo all waited", trigger_rule="none_failed")
    [wait_file, cool_down, after_start, after_ds, tmp_exists, upstream] >> report
