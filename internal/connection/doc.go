// Package connection holds what operators need to reach other systems (a
// Spark master, an SSH edge node, a database): host, port, login, password,
// schema and free-form extras, as Airflow's connections do, so an Airflow
// user can bring their connection URIs unchanged.
//
// # Forms
//
// A connection is written as an Airflow URI,
//
//	spark://127.0.0.1:7077?deploy_mode=cluster&spark_binary=spark-submit
//	ssh://user:p%40ss@edge.example.com:22?key_file=/home/me/.ssh/id_ed25519
//	postgres://u:p@db:5432/warehouse?sslmode=disable
//	http://https://api.example.com   (the host keeps its own protocol)
//
// (Parse, Connection.URI), or as a JSON/YAML object with Airflow's field
// names (conn_type, host, port, login, password, schema, extra,
// description), which is what `connections import|export` read and write.
//
// # Lookup order
//
// Resolver.Get looks in the environment first, then in the store, as
// Airflow's secrets backends do: SIROCCO_CONN_<ID in upper case> holding a
// URI or a JSON object overrides a stored connection of the same id.
//
// # Secrets at rest
//
// Before a connection reaches the store, its password and its extras are
// encrypted with AES-256-GCM (Seal); the store keeps only ciphertext. A
// ciphertext reads
//
//	v1:<key id>:<base64url(nonce | ciphertext | tag)>
//
// where the key id is the hex of the first 8 bytes of SHA-256 of the key, so
// decryption picks the right key among the current one and the old ones kept
// for rotation. The connection id and the field name are authenticated as
// additional data: a ciphertext copied to another row or another column does
// not decrypt.
//
// The key (LoadKeyring) is SIROCCO_SECRET_KEY, the standard base64 of 32
// random bytes, or else the file $SIROCCO_HOME/secret.key, which is created
// with mode 0600 on first use when neither exists: secrets are encrypted by
// default, as Airflow's fernet key. Several processes sharing one PostgreSQL
// database must share the key (set SIROCCO_SECRET_KEY everywhere). To rotate,
// make the new key current, list the previous ones in SIROCCO_SECRET_KEY_OLD
// (comma-separated) and run `sirocco connections rotate-key`, which
// re-encrypts every row with the current key (Resolver.RotateKey).
//
// # Masking
//
// Connection.Redacted hides the password and every extra whose key looks
// sensitive (Airflow's list: password, secret, token, api_key, private_key,
// ...; matched as substrings, as Airflow does) behind "***" for display, and
// Connection.Secrets returns the strings a task log must mask.
package connection
