"""Airflow 3's assets in the TaskFlow style: Asset(name=..., uri=...), | and &, schedule=Asset."""
import pendulum

from airflow.sdk import Asset, dag, task

raw = Asset(name="raw_events", uri="file:///srv/raw/events")
clean = Asset(uri="file:///srv/clean/events", name="clean_events")
model = Asset("x-ml://models/churn")


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def assets_sdk_producer():
    @task(outlets=[raw, clean])
    def ingest():
        return "ingested"

    @task(outlets=[model])
    def train():
        return "trained"

    ingest() >> train()


@dag(schedule=raw, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def assets_sdk_one():
    @task(inlets=[raw])
    def read():
        return 1

    read()


@dag(schedule=(raw & clean) | model, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def assets_sdk_either():
    @task
    def act():
        return 2

    act()


assets_sdk_producer()
assets_sdk_one()
assets_sdk_either()
