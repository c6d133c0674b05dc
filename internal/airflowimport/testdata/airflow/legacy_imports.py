"""Airflow 1.10-era imports: bash_operator, dummy_operator, days_ago, schedule_interval."""
from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.dummy_operator import DummyOperator
from airflow.utils.dates import days_ago

args = {"owner": "data", "start_date": days_ago(2), "email_on_failure": False}

dag = DAG(dag_id="legacy_imports", default_args=args, schedule_interval="0 0 * * *", catchup=False)

run_this_last = DummyOperator(task_id="run_this_last", dag=dag)
for i in range(3):
    task = BashOperator(task_id="runme_" + str(i), bash_command='echo "{{ task_instance_key_str }}"', dag=dag)
    task >> run_this_last
also_run_this = BashOperator(task_id="also_run_this", bash_command='echo "run_id={{ run_id }}"', dag=dag)
also_run_this >> run_this_last
