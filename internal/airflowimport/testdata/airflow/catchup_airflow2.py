"""Airflow 2 catches up by default; the converted DAG says so instead of silently not catching up."""
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("catchup_airflow2", start_date=datetime(2024, 1, 1), schedule="@hourly"):
    EmptyOperator(task_id="tick")
