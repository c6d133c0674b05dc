-- Sirocco schema, version 5 (SQLite): variables are stored encrypted, as
-- connection secrets are. is_encrypted tells ciphertext (made by package
-- connection) from the plaintext rows written before; those stay readable
-- and are sealed by `sirocco db migrate` or `sirocco connections rotate-key`,
-- which have the key this SQL does not.

ALTER TABLE variables ADD COLUMN is_encrypted INTEGER NOT NULL DEFAULT 0;
