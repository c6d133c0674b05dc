"""Airflow 2 template names Sirocco does not have are reported; run data (params, conf) is not."""
from datetime import datetime

from airflow import DAG
from airflow.models.param import Param
from airflow.operators.bash import BashOperator

with DAG("templates_airflow2", start_date=datetime(2024, 1, 1), schedule=None,
         params={"region": Param("eu", type="string")}):
    BashOperator(task_id="old_names", bash_command="echo {{ execution_date }} {{ prev_ds }}")
    BashOperator(task_id="connection", bash_command="psql -h {{ conn.warehouse.host }}")
    BashOperator(task_id="python_macros", bash_command="echo {{ macros.dateutil.relativedelta(days=1) }}")
    BashOperator(task_id="fine", bash_command="echo {{ ds }} {{ params.region }} {{ dag_run.conf['x'] }} {{ macros.ds_add(ds, 1) }}",
                 env={"DAY": "{{ next_ds }}"})
