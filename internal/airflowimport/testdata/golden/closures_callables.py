"""Python functions of a DAG converted from testdata/airflow/closures.py by `sirocco dags import-airflow`.

Their Airflow decorators are removed; the tasks of the YAML file next to this
one call them (callable: module:function). Edit them freely.
"""
import inspect
import json


def _make_export(limit, region):
    def export():
        return "%s:%d" % (region, limit)
    return export


export = _make_export(limit=10, region='eu')


def _make_export_2(limit, region):
    def export():
        return "%s:%d" % (region, limit)
    return export


export_2 = _make_export_2(limit=20, region='us')
