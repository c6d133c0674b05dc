"""A file that swallows the timeout's exception: its process is killed, the import goes on."""
import time
from airflow import DAG
while True:
    try:
        time.sleep(0.2)
    except BaseException:
        pass
