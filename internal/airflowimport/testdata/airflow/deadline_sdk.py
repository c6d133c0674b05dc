"""Airflow 3's DeadlineAlert and notifiers in the TaskFlow style."""
from datetime import timedelta

import pendulum
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, dag, task
from airflow.sdk.definitions.deadline import AsyncCallback, DeadlineAlert, DeadlineReference


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(seconds=1),
        callback=AsyncCallback(
            SlackWebhookNotifier,
            kwargs={"slack_webhook_conn_id": "slack_hook",
                    "text": "Dag {{ dag_run.dag_id }} missed its deadline at {{ deadline.deadline_time }}"},
        ),
    ),
    on_success_callback=SlackWebhookNotifier(slack_webhook_conn_id="slack_hook", text="{{ dag.dag_id }} done"),
)
def deadline_sdk():
    @task(on_retry_callback=SlackWebhookNotifier(slack_webhook_conn_id="slack_hook", text="retrying"))
    def slow():
        import time
        time.sleep(3)

    slow()


deadline_sdk()


# A fixed time is not a run's deadline in Sirocco: reported, the DAG has none.
with DAG("deadline_fixed", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
         deadline=DeadlineAlert(reference=DeadlineReference.FIXED_DATETIME(pendulum.datetime(2025, 6, 1, tz="UTC")),
                                interval=timedelta(hours=1), callback=AsyncCallback(SlackWebhookNotifier))):
    EmptyOperator(task_id="nothing")
