// Package spark is a client for a Spark standalone cluster: the master's
// REST submission server (the protocol spark-submit --deploy-mode cluster
// speaks, port 6066 by default, enabled with spark.master.rest.enabled),
// the master web UI's JSON state (/json/, port 8080) and the workers' web
// UIs, which serve the drivers' stdout and stderr. It needs no JVM: Sirocco
// submits, watches, kills and tails Spark drivers over HTTP alone.
//
// A submission creates a driver on some worker, named by the id the
// master returns ("driver-20250101120000-0000"):
//
//	c := &spark.Client{RESTURL: "http://127.0.0.1:6066", MasterUIURL: "http://127.0.0.1:8080"}
//	req := spark.PySparkRequest("spark://127.0.0.1:7077", "/jobs/wordcount.py",
//		[]string{"/data/in.txt", "/data/out"}, map[string]string{"spark.executor.memory": "512m"},
//		map[string]string{"PYSPARK_PYTHON": "/venv/bin/python"}, nil)
//	id, err := c.Submit(ctx, req)
//	st, err := c.Status(ctx, id) // poll until st.Terminal()
//	ui, err := c.WorkerWebUI(ctx, st.WorkerID)
//	out, next, total, err := c.DriverLog(ctx, ui, id, spark.Stdout, 0)
//
// Standalone cluster mode does not run Python applications directly
// (spark-submit rejects them), so PySparkRequest submits
// org.apache.spark.deploy.SparkSubmit itself as the driver's main class:
// the worker starts a driver JVM that runs spark-submit in client mode
// against the master, as Spark's own submit_pi.sh example does. The
// application therefore runs its SparkContext inside the driver that the
// master tracks, and the driver's state, exit status and logs are the
// application's.
//
// A driver and the application it creates are separate objects in the
// master, and its JSON has no field linking them; AppIDForDriver finds the
// application from the driver's own log.
//
// A master protected by a filter (spark.master.rest.filters, for instance
// org.apache.spark.ui.JWSFilter) expects Client.Token as an
// "Authorization: Bearer" header; the token is sent on every request and
// never appears in errors.
package spark
