"""A PySpark job that fails after starting its session, so the Python
traceback ("ValueError: boom from PySpark") must reach the driver's log and
the driver must end FAILED."""
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("FailingPySpark").getOrCreate()
print("session started, about to fail")
raise ValueError("boom from PySpark")
