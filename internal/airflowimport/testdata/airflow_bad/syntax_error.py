from airflow import DAG
with DAG("broken" as dag:
    pass
