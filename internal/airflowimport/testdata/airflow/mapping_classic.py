"""Dynamic task mapping with classic operators, as in Airflow's docs."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("mapping_classic", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    list_files = BashOperator(task_id="list_files", bash_command="echo '[\"echo a\", \"echo b\"]'")

    # One instance per command of a literal list.
    echo = BashOperator.partial(task_id="echo", retries=1).expand(bash_command=["echo 1", "echo 2"])

    # Several expanded arguments: their cross product (4 instances).
    cross = BashOperator.partial(task_id="cross", max_active_tis_per_dag=2).expand(
        cwd=["/tmp", "/"], bash_command=["pwd", "echo {{ ti.map_index }}"]
    )

    # Over an upstream task's output (its XCom list).
    from_xcom = BashOperator.partial(task_id="from_xcom").expand(bash_command=list_files.output)

    # expand_kwargs: one dict of arguments per instance.
    per_dict = BashOperator.partial(task_id="per_dict").expand_kwargs(
        [{"bash_command": "echo x", "cwd": "/tmp"}, {"bash_command": "echo y"}]
    )

    echo >> cross
