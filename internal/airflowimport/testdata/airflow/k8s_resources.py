"""KubernetesPodOperator with kubernetes.client models, from the newer module path."""
from datetime import datetime

from kubernetes.client import models as k8s

from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

with DAG("k8s_resources", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    KubernetesPodOperator(
        task_id="pod",
        name="hello",
        namespace="jobs",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=["echo hello {{ ds }}"],
        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"},
                                                       limits={"memory": "128Mi"}),
        labels={"team": "data"},
        get_logs=True,
        on_finish_action="delete_pod",
    )
