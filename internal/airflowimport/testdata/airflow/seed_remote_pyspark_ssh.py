# The seed's Example 3, as written: spark-submit over ssh from a BashOperator.
from airflow import DAG
from airflow.operators.bash import BashOperator
from datetime import datetime

with DAG(
    dag_id='remote_pyspark_ssh',
    start_date=datetime(2023, 1, 1),
    schedule_interval=None,
    catchup=False
) as dag:

    run_pyspark_remotely = BashOperator(
        task_id='remote_pyspark',
        bash_command="ssh user@remote_server 'spark-submit --class YourMainClass your-spark-jar.jar --arg1 value1 --arg2 value2'"
    )
