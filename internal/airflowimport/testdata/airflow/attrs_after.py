"""Arguments set as attributes after the DAG and its tasks are made are converted or reported."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("attrs_after", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    dag.doc_md = __doc__
    dag.max_active_runs = 1
    t = BashOperator(task_id="t", bash_command="echo")
    t.retries = 3
    t.doc_md = "docs"
    t.owner_email = "x@example.com"
