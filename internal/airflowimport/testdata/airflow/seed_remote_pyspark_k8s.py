# The seed's Example 2, as written: a KubernetesPodOperator running spark-submit.
from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator
from datetime import datetime

with DAG(
    dag_id='remote_pyspark_dag',
    start_date=datetime(2023, 1, 1),
    schedule_interval=None,
    catchup=False
) as dag:

    spark_job = KubernetesPodOperator(
        task_id='run_pyspark',
        name='pyspark-job',
        namespace='default',  # Adjust as necessary
        image='your-spark-image:your-spark-version', # Replace with your Spark image
        cmds=['/bin/bash', '-c'],
        arguments=['spark-submit --class YourMainClass your-spark-jar.jar --arg1 value1 --arg2 value2'], # Adjust for your Jar and arguments.
        resources={"request_cpu": "1", "request_memory": "2Gi"}, #Resource requirements.
        image_pull_secrets=[{'name': 'your-registry-secret'}], # Only if you need it
    )
