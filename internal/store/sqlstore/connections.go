package sqlstore

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file holds the connections table. Password and extra arrive as
// ciphertext from package connection and are stored as they come: the store
// does no cryptography and never needs a key.

const connCols = `conn_id, conn_type, description, host, port, login, password, schema, extra`

func connArgs(c store.ConnectionRecord) []any {
	return []any{c.ConnID, c.ConnType, c.Description, c.Host, c.Port, c.Login, c.Password, c.Schema, c.Extra}
}

func scanConn(sc scanner, c *store.ConnectionRecord) error {
	return sc.Scan(&c.ConnID, &c.ConnType, &c.Description, &c.Host, &c.Port, &c.Login, &c.Password, &c.Schema, &c.Extra)
}

// CreateConnection inserts a connection; an existing id gives an error
// wrapping store.ErrExists.
func (s *Store) CreateConnection(ctx context.Context, c store.ConnectionRecord) error {
	_, err := s.exec(ctx, `INSERT INTO connections (`+connCols+`) VALUES (`+placeholders(9)+`)`, connArgs(c)...)
	if isUniqueViolation(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.ConnID, err)
	}
	return nil
}

// SetConnection creates or replaces a connection.
func (s *Store) SetConnection(ctx context.Context, c store.ConnectionRecord) error {
	_, err := s.exec(ctx, `INSERT INTO connections (`+connCols+`) VALUES (`+placeholders(9)+`)
		ON CONFLICT (conn_id) DO UPDATE SET conn_type = excluded.conn_type, description = excluded.description,
		host = excluded.host, port = excluded.port, login = excluded.login, password = excluded.password,
		schema = excluded.schema, extra = excluded.extra`, connArgs(c)...)
	if err != nil {
		return fmt.Errorf("set connection %s: %w", c.ConnID, err)
	}
	return nil
}

// UpdateConnection replaces every column of an existing connection; a
// missing one gives an error wrapping store.ErrNotFound.
func (s *Store) UpdateConnection(ctx context.Context, c store.ConnectionRecord) error {
	res, err := s.exec(ctx, `UPDATE connections SET conn_type = ?, description = ?, host = ?, port = ?, login = ?,
		password = ?, schema = ?, extra = ? WHERE conn_id = ?`,
		c.ConnType, c.Description, c.Host, c.Port, c.Login, c.Password, c.Schema, c.Extra, c.ConnID)
	if err != nil {
		return fmt.Errorf("update connection %s: %w", c.ConnID, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("update connection %s: %w", c.ConnID, orNotFound(err))
	}
	return nil
}

// GetConnection returns a connection or an error wrapping store.ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, connID string) (store.ConnectionRecord, error) {
	var c store.ConnectionRecord
	err := scanConn(s.queryRow(ctx, `SELECT `+connCols+` FROM connections WHERE conn_id = ?`, connID), &c)
	if err != nil {
		return store.ConnectionRecord{}, fmt.Errorf("get connection %s: %w", connID, notFound(err))
	}
	return c, nil
}

// ListConnections returns every connection sorted by id.
func (s *Store) ListConnections(ctx context.Context) ([]store.ConnectionRecord, error) {
	rows, err := s.query(ctx, `SELECT `+connCols+` FROM connections ORDER BY conn_id`)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return collect(rows, "list connections", scanConn)
}

// DeleteConnection removes a connection; a missing one gives an error
// wrapping store.ErrNotFound.
func (s *Store) DeleteConnection(ctx context.Context, connID string) error {
	res, err := s.exec(ctx, `DELETE FROM connections WHERE conn_id = ?`, connID)
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", connID, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("delete connection %s: %w", connID, orNotFound(err))
	}
	return nil
}

// ReplaceConnectionSecrets sets password and extra of old.ConnID if both
// still hold old's ciphertexts, in one conditional UPDATE, and reports
// whether it did.
func (s *Store) ReplaceConnectionSecrets(ctx context.Context, old store.ConnectionRecord, password, extra string) (bool, error) {
	res, err := s.exec(ctx, `UPDATE connections SET password = ?, extra = ?
		WHERE conn_id = ? AND password = ? AND extra = ?`,
		password, extra, old.ConnID, old.Password, old.Extra)
	if err != nil {
		return false, fmt.Errorf("replace secrets of connection %s: %w", old.ConnID, err)
	}
	ok, err := affected(res)
	if err != nil {
		return false, fmt.Errorf("replace secrets of connection %s: %w", old.ConnID, err)
	}
	return ok, nil
}
