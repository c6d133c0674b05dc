"""Counts the words of a text file with PySpark and writes the counts as CSV.

usage: wordcount.py INPUT_PATH OUTPUT_DIR [TOP]

OUTPUT_DIR receives Spark's CSV output (a header, then word,count rows,
most frequent first); the TOP (default 10) most frequent words are printed.
"""
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: wordcount.py INPUT_PATH OUTPUT_DIR [TOP]")
    src, dst = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 10

    spark = SparkSession.builder.appName("WordCount").getOrCreate()
    try:
        words = (spark.read.text(src)
                 .select(F.explode(F.split(F.lower(F.col("value")), r"\W+")).alias("word"))
                 .where(F.col("word") != ""))
        counts = words.groupBy("word").count().orderBy(F.desc("count"), "word").cache()
        counts.coalesce(1).write.mode("overwrite").option("header", True).csv(dst)
        print(f"{counts.count()} distinct words, written to {dst}")
        for row in counts.take(top):
            print(f"{row['word']}\t{row['count']}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
