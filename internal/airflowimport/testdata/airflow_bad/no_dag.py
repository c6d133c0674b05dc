"""Mentions airflow and dag but defines none (a helper module)."""
import airflow  # noqa
DAG_DEFAULTS = {"retries": 1}
