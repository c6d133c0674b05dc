package sirocco.test;

import java.util.Collections;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Sleep runs one Spark job whose single task sleeps for the number of
 * seconds given as the first argument (default 60), so tests have a
 * cluster-mode driver that stays RUNNING long enough to be killed.
 */
public final class Sleep {
    private Sleep() {}

    public static void main(String[] args) throws Exception {
        final int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        SparkSession spark = SparkSession.builder().appName("SiroccoSleep").getOrCreate();
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            System.out.println("sleeping " + seconds + "s");
            System.out.flush();
            sc.parallelize(Collections.singletonList(seconds), 1).foreach(s -> Thread.sleep(s * 1000L));
            System.out.println("slept " + seconds + "s");
        } finally {
            spark.stop();
        }
    }
}
