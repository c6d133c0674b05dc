"""Tasks generated in a loop by a helper function, from a config list."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

TABLES = ["orders", "customers", "products"]


def export_task(table, dag):
    return BashOperator(task_id=f"export_{table}", bash_command=f"echo exporting {table} for {{{{ ds }}}}", dag=dag,
                        pool="default_pool", priority_weight=len(table))


dag = DAG("loops", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False, max_active_tasks=2)
start = EmptyOperator(task_id="start", dag=dag)
done = EmptyOperator(task_id="done", dag=dag, trigger_rule="all_done")
for t in TABLES:
    start >> export_task(t, dag) >> done
