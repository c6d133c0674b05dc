"""HttpOperator and the older SimpleHttpOperator; a simple lambda response_check converts, another is reported."""
import json
from datetime import datetime

from airflow import DAG
from airflow.providers.http.operators.http import HttpOperator, SimpleHttpOperator

with DAG("http_operator", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    post = HttpOperator(
        task_id="post_op",
        http_conn_id="api",
        endpoint="post",
        method="POST",
        data=json.dumps({"priority": 5}),
        headers={"Content-Type": "application/json"},
        response_check=lambda response: response.json()["json"]["priority"] == 5,
        log_response=True,
    )
    get = SimpleHttpOperator(task_id="get_op", http_conn_id="api", method="GET", endpoint="get",
                             data={"param1": "value1"}, response_check=lambda r: len(r.json()) > 1)
    post >> get
    # Two lambdas alike on one line: which is which is unknown, both are reported.
    a = HttpOperator(task_id="a", endpoint="a", response_check=lambda r: r.ok); b = HttpOperator(task_id="b", endpoint="b", response_check=lambda r: not r.ok)
