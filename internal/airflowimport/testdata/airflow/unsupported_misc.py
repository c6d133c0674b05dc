"""Callbacks, assets and unknown arguments; TriggerDagRunOperator and depends_on_past convert."""
from datetime import datetime

from airflow import DAG, Dataset
from airflow.operators.bash import BashOperator
from airflow.operators.trigger_dagrun import TriggerDagRunOperator


def notify(context):
    print("failed", context)


with DAG("unsupported_misc", start_date=datetime(2024, 1, 1), schedule=[Dataset("s3://bucket/raw")],
         on_failure_callback=notify, sla_miss_callback=notify, render_template_as_native_obj=True,
         default_args={"depends_on_past": True, "email": ["ops@example.com"]}) as dag:
    produce = BashOperator(task_id="produce", bash_command="echo produce", outlets=[Dataset("s3://bucket/out")],
                           output_encoding="utf-8", on_success_callback=notify)
    trigger = TriggerDagRunOperator(task_id="trigger_next", trigger_dag_id="next_dag", conf={"a": 1})
    produce >> trigger
