"""A DAG file writing to the process's stdout (a subprocess, sys.__stdout__): the import goes on."""
import os, subprocess, sys
from airflow import DAG
os.system("echo from-os-system")
sys.__stdout__.write("from __stdout__\n")
with DAG("writes_stdout", schedule=None):
    pass
