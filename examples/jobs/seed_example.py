"""Example 1 of the seed story, unchanged: a PySpark DataFrame, shown."""
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("SimplePySpark").getOrCreate()

data = [("Alice", 30), ("Bob", 25), ("Charlie", 35)]
columns = ["Name", "Age"]
df = spark.createDataFrame(data, columns)

df.show()

spark.stop()
