"""TriggerDagRunOperator in Airflow 3's style: the standard provider's path, a TaskFlow DAG, a
logical_date datetime, an XComArg in conf; deferrable and note are reported."""
from datetime import datetime, timedelta, timezone

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2025, 1, 1), catchup=False, tags=["trigger"])
def trigger_sdk():
    @task
    def message() -> str:
        return "from trigger_sdk"

    TriggerDagRunOperator(
        task_id="hand_over",
        trigger_dag_id="example_trigger_target_dag",
        trigger_run_id="handed_over__{{ ds_nodash }}",
        logical_date=datetime(2025, 1, 1, 6, 30, tzinfo=timezone.utc),
        conf={"message": message()},
        skip_when_already_exists=True,
        fail_when_dag_is_paused=True,
        wait_for_completion=True,
        poke_interval=timedelta(seconds=5),
        allowed_states=["success"],
        failed_states=["failed"],
        deferrable=True,
        note="handed over by trigger_sdk",
        openlineage_inject_parent_info=False,
    )


trigger_sdk()
