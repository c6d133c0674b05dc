package sirocco.test;

/**
 * Echo prints each argument on its own line of stdout and exits with
 * status 1, after a message on stderr, if one of them is "fail". It starts
 * no SparkContext, so it is the quickest JVM driver a cluster-mode test
 * can run.
 */
public final class Echo {
    private Echo() {}

    public static void main(String[] args) {
        boolean fail = false;
        for (String a : args) {
            System.out.println(a);
            fail |= a.equals("fail");
        }
        System.out.flush();
        if (fail) {
            System.err.println("Echo: failing as asked");
            System.exit(1);
        }
    }
}
