"""pendulum dates in a zone, durations and Params with a schema."""
import pendulum

from airflow import DAG
from airflow.models.param import Param
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="pendulum_params",
    start_date=pendulum.datetime(2024, 3, 1, tz="Europe/Paris"),
    schedule="30 2 * * *",
    catchup=False,
    dagrun_timeout=pendulum.duration(minutes=30),
    params={
        "region": Param("eu", type="string", enum=["eu", "us"], description="where to read from"),
        "limit": Param(100, type="integer", minimum=1),
        "verbose": False,
    },
    default_args={"retry_delay": pendulum.duration(seconds=10), "retries": 1},
) as dag:
    BashOperator(task_id="show", bash_command="echo {{ params.region }} {{ params.limit }} {{ params.verbose }}")
