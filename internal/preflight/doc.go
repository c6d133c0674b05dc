// Package preflight checks, step by step, that a connection works before
// anything depends on it: `sirocco connections test ID` prints its report,
// and a task (or a DAG) with `preflight` fails its try at once with the
// same report instead of timing out deep inside an operator.
//
// A check is an ordered list of steps, each timed, each ok, failed with a
// reason, or skipped because a step it needs did not pass:
//
//	dns        resolve the host                 (every type with a host)
//	tcp        connect to host:port             (needs dns)
//	...        the type's own steps             (Provider, by conn_type)
//	kerberos   kinit from principal + keytab    (any type with both extras)
//
// The type's own steps come from a Provider registered by conn_type in
// Checker.Providers (DefaultProviders: spark, ssh, kubernetes). A
// provider chooses the address the common steps reach (a Spark master's
// host, an SSH bastion, the apiserver of a kubernetes connection's
// kubeconfig) and returns its checks, which may share state (one SSH client
// for handshake, auth and command) and a Close run after the last one.
package preflight
