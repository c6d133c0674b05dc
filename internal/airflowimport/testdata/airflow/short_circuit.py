"""@task.short_circuit and ShortCircuitOperator."""
from datetime import datetime

from airflow.decorators import dag, task
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import ShortCircuitOperator


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def short_circuit():
    @task.short_circuit
    def always_true():
        return True

    never = ShortCircuitOperator(task_id="never", python_callable=lambda: False,
                                 ignore_downstream_trigger_rules=False)
    after_true = EmptyOperator(task_id="after_true")
    after_false = EmptyOperator(task_id="after_false")
    always_true() >> after_true
    never >> after_false


short_circuit()
