// Package sshclient reaches remote hosts over SSH for Sirocco's operators:
// the settings of an ssh connection, verified host keys, bastions, a
// connection pool and the quoting of remote command lines.
//
// # Settings
//
// FromConnection reads a connection of type ssh (URI
// ssh://user@host:2222?key_file=..., fields with JSON extras, or
// SIROCCO_CONN_<ID>): host, port (22), login (the local user), password,
// and the extras key_file, private_key, passphrase, use_agent,
// look_for_keys, known_hosts, host_key, insecure_skip_host_key,
// proxy_jump, connect_timeout, keepalive_interval, keepalive_count_max,
// cmd_timeout and ciphers, with Airflow's SSHHook spellings accepted
// (private_key_passphrase, allow_agent, conn_timeout, no_host_key_check,
// ...). Resolve also follows proxy_jump to the bastion's settings.
//
// # Host keys
//
// Host keys are verified by default, against ~/.ssh/known_hosts and
// /etc/ssh/ssh_known_hosts (or the known_hosts extra), or against the
// keys or fingerprints pinned in host_key. An unknown or changed key fails
// the dial before anything runs, with a *HostKeyError naming the host and
// the offered key's type and SHA256 fingerprint. known_hosts is written
// only by AppendKnownHost, which `connections test --accept-host-key`
// calls when the user asks. insecure_skip_host_key (or Airflow's
// no_host_key_check) turns checking off and logs a warning on every use.
//
// # Connections
//
// Dial logs in, through the bastion when there is one (a direct-tcpip
// channel of the bastion's connection, whose key is verified too), within
// connect_timeout per hop, and keeps the connection alive with
// keepalive@openssh.com requests: when keepalive_count_max of them go
// unanswered the client is closed, so a command waiting on a dead host
// fails instead of hanging. Failures are *Error values naming the
// connection, the address and the Stage.
//
// Pool shares one connection per connection id and settings between tasks
// (one handshake, one session per command), drops a broken connection
// and dials it again once, and closes connections left idle.
//
//	pool := sshclient.NewPool(sshclient.PoolOptions{Logger: log})
//	defer pool.Close()
//	s, err := sshclient.Resolve(ctx, resolver.Get, "edge", sshclient.OSEnv())
//	line, err := sshclient.Quote([]string{"spark-submit", "--name", name, app})
//	code, err := pool.Run(ctx, s, line, stdout, stderr)
//
// # Secrets
//
// Private keys, passphrases and passwords are Secret values, which print
// as "***" whatever the format verb; errors name files and fields, never
// their content. Settings.Secrets lists them for a task log's masker.
package sshclient
