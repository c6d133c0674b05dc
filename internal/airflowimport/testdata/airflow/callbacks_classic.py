"""Callbacks, e-mail and notifiers in Airflow 2's classic style."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier, send_smtp_notification


def page_oncall(context):
    print("paging for", context["task_instance"].task_id)


default_args = {
    "email": "ops@example.com; data@example.com",
    "email_on_retry": False,
    "on_failure_callback": SmtpNotifier(to="oncall@example.com", from_email="airflow@example.com",
                                        subject="{{ ti.task_id }} failed", html_content="see the log"),
    "retries": 1,
    "retry_delay": timedelta(seconds=1),
}

with DAG("callbacks_classic", start_date=datetime(2024, 1, 1), schedule=None, default_args=default_args,
         on_success_callback=SlackWebhookNotifier(slack_webhook_conn_id="slack_hook",
                                                  text="DAG {{ dag.dag_id }} succeeded: run {{ run_id }}"),
         on_failure_callback=[page_oncall, send_smtp_notification(to=["oncall@example.com"], subject="run failed")],
         sla_miss_callback=page_oncall):
    extract = BashOperator(task_id="extract", bash_command="echo extract",
                           on_success_callback=SlackWebhookNotifier(slack_webhook_conn_id="slack_hook",
                                                                    text='task "{{ ti.task_id }}" done'))
    load = BashOperator(task_id="load", bash_command="echo load", sla=timedelta(hours=2),
                        on_execute_callback=page_oncall, email_on_failure=False)
    extract >> load
