"""Datasets (Airflow 2.4+): a producer with outlets and consumers scheduled on them."""
from datetime import datetime

from airflow import DAG, Dataset
from airflow.datasets import DatasetAll, DatasetAny
from airflow.operators.bash import BashOperator

orders = Dataset("S3://Warehouse/orders/")
customers = Dataset("s3://warehouse/customers", extra={"format": "parquet"})
regions = Dataset("reference_regions")

with DAG("assets_classic_producer", start_date=datetime(2024, 1, 1), schedule=None):
    BashOperator(task_id="refresh_orders", bash_command="echo orders", outlets=[orders])
    BashOperator(task_id="refresh_customers", bash_command="echo customers", inlets=[orders],
                 outlets=[customers, regions])

with DAG("assets_classic_all", start_date=datetime(2024, 1, 1), schedule=[orders, customers]):
    BashOperator(task_id="report", bash_command="echo report")

with DAG("assets_classic_nested", start_date=datetime(2024, 1, 1),
         schedule=DatasetAll(orders, DatasetAny(customers, regions))):
    BashOperator(task_id="report", bash_command="echo nested")
