"""TriggerDagRunOperator in Airflow 2's style (example_trigger_controller_dag and its target):
execution_date, reset_dag_run, poke_interval in seconds, DagRunState lists."""
import pendulum

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.utils.state import DagRunState

with DAG(
    dag_id="example_trigger_target_dag",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    schedule=None,
    params={"message": "none"},
    tags=["example"],
) as target:
    BashOperator(task_id="bash_task", bash_command='echo "Here is the message: {{ params.message }}"')

with DAG(
    dag_id="example_trigger_controller_dag",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@once",
    tags=["example"],
) as dag:
    trigger = TriggerDagRunOperator(
        task_id="test_trigger_dagrun",
        trigger_dag_id="example_trigger_target_dag",
        conf={"message": "Hello World"},
        execution_date="{{ ds }}",
        reset_dag_run=True,
        wait_for_completion=False,
        poke_interval=30,
        allowed_states=[DagRunState.SUCCESS],
        failed_states=[DagRunState.FAILED],
    )
