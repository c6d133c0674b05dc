"""Unknown sensors are reported with a rewrite; Sirocco's sensors and Python sensors convert."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.python import PythonSensor
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.decorators import task

with DAG("unsupported_sensors", start_date=datetime(2024, 1, 1), schedule=None):
    wait_file = FileSensor(task_id="wait_file", filepath="/data/ready/**", recursive=True, poke_interval=30, mode="reschedule")
    wait_s3 = S3KeySensor(task_id="wait_s3", bucket_key="s3://bucket/key")
    wait_py = PythonSensor(task_id="wait_py", python_callable=lambda: True)

    @task.sensor(poke_interval=60)
    def wait_api():
        return True

    process = BashOperator(task_id="process", bash_command="echo go")
    [wait_file, wait_s3, wait_py, wait_api()] >> process
