"""Python sensors: PythonSensor and @task.sensor run their function once per poke from a bash_sensor."""
import os
from datetime import datetime, timedelta

from airflow.decorators import dag, task
from airflow.sensors.base import PokeReturnValue
from airflow.sensors.python import PythonSensor

MARKER = "/etc/passwd"


def marker_exists(path, ds=None):
    print("looking for", path, "on", ds)
    return os.path.exists(path)


def param_marker_exists(**context):
    return os.path.exists(context["params"]["path"])


@dag(start_date=datetime(2024, 1, 1), schedule=None, params={"path": MARKER})
def python_sensors():
    classic = PythonSensor(task_id="classic", python_callable=marker_exists, op_kwargs={"path": MARKER},
                           poke_interval=1, timeout=timedelta(minutes=1), mode="reschedule")

    @task.sensor(poke_interval=1, timeout=60, mode="poke")
    def decorated() -> PokeReturnValue:
        return PokeReturnValue(is_done=os.path.isdir("/tmp"), xcom_value="tmp is there")

    @task
    def after():
        print("both sensors passed")

    by_param = PythonSensor(task_id="by_param", python_callable=param_marker_exists, poke_interval=1, timeout=60)

    [classic, decorated(), by_param] >> after()


python_sensors()
