"""get_current_context() is Airflow's: reported, not copied from the shim."""
from datetime import datetime
from airflow.decorators import dag, task
from airflow.operators.python import get_current_context
@dag(schedule=None, start_date=datetime(2024,1,1))
def current_context():
    @task
    def f(**context):
        c = get_current_context()
        return context["ti"].xcom_pull(task_ids="x"), c["ds"]
    f()
current_context()
