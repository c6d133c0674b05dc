"""SSHOperator running spark-submit on an edge node (the seed's Example 3 done with the ssh provider)."""
from datetime import datetime

from airflow import DAG
from airflow.providers.ssh.operators.ssh import SSHOperator

with DAG("ssh_operator", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    SSHOperator(
        task_id="remote_pyspark",
        ssh_conn_id="edge_node",
        command="spark-submit --master yarn /opt/jobs/seed_example.py {{ ds }}",
        environment={"SPARK_MAJOR_VERSION": "3"},
        cmd_timeout=600,
        get_pty=False,
    )
