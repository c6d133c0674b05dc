"""BranchPythonOperator choosing a path, joined with none_failed_min_one_success."""
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator
from airflow.utils.trigger_rule import TriggerRule


def choose(mode):
    if mode == "full":
        return "full_load"
    return "incremental_load"


with DAG("branch_python", start_date=datetime(2024, 1, 1), schedule=None):
    pick = BranchPythonOperator(task_id="pick", python_callable=choose, op_kwargs={"mode": "full"})
    full = EmptyOperator(task_id="full_load")
    incr = EmptyOperator(task_id="incremental_load")
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    pick >> [full, incr] >> join
