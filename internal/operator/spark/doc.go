// Package spark holds the Spark operators. spark_submit runs spark-submit
// with every option of Airflow's SparkSubmitOperator, built as argv; in
// standalone cluster mode it captures the driver id from the output, stores
// it before waiting, and tracks the driver through the master's REST API;
// on a k8s:// master in cluster mode it names the driver pod per try,
// stores that name before spark-submit runs, and tracks the pod through
// the apiserver (k8s.go, k8s_track.go).
// spark_rest submits straight to that REST API from Go, with no JVM here.
// Both kill what they started on cancel or timeout, bounded in time, and
// reattach to a running driver after a restart of Sirocco instead of
// submitting it again.
package spark
