"""SparkSubmitOperator from the apache.spark provider."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

with DAG("spark_submit", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         dagrun_timeout=timedelta(hours=2)) as dag:
    SparkSubmitOperator(
        task_id="wordcount",
        conn_id="spark_cluster",
        application="/opt/jobs/wordcount.py",
        application_args=["--day", "{{ ds }}"],
        conf={"spark.executor.instances": "2"},
        executor_memory="2g",
        driver_memory="1g",
        name="wordcount-{{ ds_nodash }}",
        verbose=False,
        execution_timeout=timedelta(hours=1),
    )
