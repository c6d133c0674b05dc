from airflow import DAG
while True:
    pass
