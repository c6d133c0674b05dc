"""chain() with lists side by side, cross_downstream and <<."""
from datetime import datetime

from airflow import DAG
from airflow.models.baseoperator import chain, cross_downstream
from airflow.operators.empty import EmptyOperator
from airflow.operators.bash import BashOperator

with DAG("chain_lists", start_date=datetime(2024, 1, 1), schedule="@hourly", catchup=False) as dag:
    a = EmptyOperator(task_id="a")
    b1, b2 = [BashOperator(task_id=f"b{i}", bash_command=f"echo b{i}") for i in (1, 2)]
    c1, c2 = [BashOperator(task_id=f"c{i}", bash_command=f"echo c{i}") for i in (1, 2)]
    d = EmptyOperator(task_id="d")
    chain(a, [b1, b2], [c1, c2], d)
    x = BashOperator(task_id="x", bash_command="echo x")
    y = BashOperator(task_id="y", bash_command="echo y")
    cross_downstream([x, y], [c1, c2])
    d << a
