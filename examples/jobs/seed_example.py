"""Example 1 of the seed: the smallest PySpark job, a DataFrame of three rows."""
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("SimplePySpark").getOrCreate()

data = [("Alice", 1), ("Bob", 2), ("Charlie", 3)]
df = spark.createDataFrame(data, ["Name", "Value"])
df.show()

spark.stop()
