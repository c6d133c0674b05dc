// Package testenv provides real external services to tests, started on
// demand and torn down when the test binary ends, plus the rule that decides
// whether a missing service skips a test or fails it.
//
// A package that uses a service routes its TestMain through RunMain:
//
//	func TestMain(m *testing.M) { testenv.RunMain(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := testenv.Postgres(t) // a fresh, empty database
//		...
//	}
//
// Postgres starts one throwaway PostgreSQL server per test binary, the first
// time a test asks for it, from the binaries Debian's postgresql package
// installs (pg_config --bindir, /usr/lib/postgresql/*/bin, or PATH). The
// server listens on 127.0.0.1 on a free port with its data and socket in a
// temporary directory, runs with fsync off, and trusts loopback connections.
// As root (the usual CI case) it runs as the "postgres" system user, since
// PostgreSQL refuses to run as root. Each call creates its own database, so
// tests are isolated and may run in parallel.
//
// Spark starts one Spark standalone cluster per test binary: a master with
// its REST submission server and one worker, from the pyspark package in
// the virtualenv scripts/spark.sh installs, all on free loopback ports.
// SparkTestJar compiles the small JVM test applications in testdata/ with
// javac against that Spark's jars.
//
// KDC starts an MIT Kerberos realm for one test (stopped by t.Cleanup): a
// krb5kdc on a free loopback port with its database, krb5.conf and kdc.conf
// in a temporary directory; AddPrincipal makes a principal and its keytab
// with kadmin.local (no kadmind runs), with ticket lifetimes short enough to
// watch a ticket being renewed.
//
// SSHD starts an OpenSSH sshd per call (Debian's openssh-server), on
// 127.0.0.1 and a free port, with its configuration, host keys and
// authorized keys in t's temporary directory, stopped by t.Cleanup. Every
// instance authorizes the test binary's one client key (plain and
// encrypted copies), so a bastion (SSHDBastion) and the host behind it take
// the same identity. Password logins use a dedicated local account
// (SSHTestUser), which only root can create.
//
// StartKube starts a Kubernetes control plane for one test (stopped by
// t.Cleanup) through internal/kubebed, which `scripts/k8s.sh up` uses too:
// etcd, kube-apiserver and kube-scheduler built by scripts/k8s.sh from the
// tools/k8s module, and kwok faking one node, all on free loopback ports.
// Pods run no containers: kwok Stages (internal/kubebed/stages.yaml) take them to Running and then Succeeded or
// Failed as their annotations ask (KubeRunForAnnotation, ...), and
// ServeLogs makes a file every container's log through pods/log.
//
// When a service is not installed the test is skipped, unless CI=true, where
// it fails: CI must exercise every backend (RequireCI).
package testenv
