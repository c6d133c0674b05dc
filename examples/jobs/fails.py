"""A PySpark job that fails after starting its session: the driver must end
FAILED, with the traceback ("ValueError: boom from PySpark") in its log.
Spark's Python runner merges the Python process's stderr into the driver's
stdout, so that is where the traceback lands."""
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("FailingPySpark").getOrCreate()
print("session started, about to fail", flush=True)
raise ValueError("boom from PySpark")
