"""Airflow 3 does not catch up by default, as Sirocco: nothing to report."""
from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("catchup_airflow3", start_date=datetime(2024, 1, 1), schedule="@hourly"):
    EmptyOperator(task_id="tick")
