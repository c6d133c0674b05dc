package sqlstore

import (
	"context"
	"fmt"

	"github.com/sirocco-dev/sirocco/internal/store"
)

// This file holds the variables table. Values arrive sealed by package
// connection (is_encrypted) and are stored as they come: the store does no
// cryptography.

const varCols = `key, val, description, is_encrypted`

func scanVar(sc scanner, v *store.Variable) error {
	return sc.Scan(&v.Key, &v.Value, &v.Description, &v.Encrypted)
}

// SetVariable creates or overwrites a variable.
func (s *Store) SetVariable(ctx context.Context, v store.Variable) error {
	_, err := s.exec(ctx, `INSERT INTO variables (`+varCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET val = excluded.val, description = excluded.description,
		is_encrypted = excluded.is_encrypted`,
		v.Key, v.Value, v.Description, v.Encrypted)
	if err != nil {
		return fmt.Errorf("set variable %s: %w", v.Key, err)
	}
	return nil
}

// GetVariable returns a variable or an error wrapping store.ErrNotFound.
func (s *Store) GetVariable(ctx context.Context, key string) (store.Variable, error) {
	var v store.Variable
	if err := scanVar(s.queryRow(ctx, `SELECT `+varCols+` FROM variables WHERE key = ?`, key), &v); err != nil {
		return store.Variable{}, fmt.Errorf("get variable %s: %w", key, notFound(err))
	}
	return v, nil
}

// ListVariables returns every variable sorted by key.
func (s *Store) ListVariables(ctx context.Context) ([]store.Variable, error) {
	rows, err := s.query(ctx, `SELECT `+varCols+` FROM variables ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list variables: %w", err)
	}
	return collect(rows, "list variables", scanVar)
}

// CreateVariable inserts a variable; an existing key gives
// store.ErrExists.
func (s *Store) CreateVariable(ctx context.Context, v store.Variable) error {
	_, err := s.exec(ctx, `INSERT INTO variables (`+varCols+`) VALUES (?, ?, ?, ?)`,
		v.Key, v.Value, v.Description, v.Encrypted)
	if isUniqueViolation(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create variable %s: %w", v.Key, err)
	}
	return nil
}

// UpdateVariable replaces an existing variable's value, description and
// flag; a missing one gives store.ErrNotFound.
func (s *Store) UpdateVariable(ctx context.Context, v store.Variable) error {
	res, err := s.exec(ctx, `UPDATE variables SET val = ?, description = ?, is_encrypted = ? WHERE key = ?`,
		v.Value, v.Description, v.Encrypted, v.Key)
	if err != nil {
		return fmt.Errorf("update variable %s: %w", v.Key, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("update variable %s: %w", v.Key, orNotFound(err))
	}
	return nil
}

// DeleteVariable removes a variable; a missing one gives store.ErrNotFound
// so the CLI can say so.
func (s *Store) DeleteVariable(ctx context.Context, key string) error {
	res, err := s.exec(ctx, `DELETE FROM variables WHERE key = ?`, key)
	if err != nil {
		return fmt.Errorf("delete variable %s: %w", key, err)
	}
	if ok, err := affected(res); err != nil || !ok {
		return fmt.Errorf("delete variable %s: %w", key, orNotFound(err))
	}
	return nil
}

// ReplaceVariableValue sets the value of old.Key if it still holds old's
// value and flag, in one conditional UPDATE, and reports whether it did.
func (s *Store) ReplaceVariableValue(ctx context.Context, old store.Variable, value string, encrypted bool) (bool, error) {
	res, err := s.exec(ctx, `UPDATE variables SET val = ?, is_encrypted = ?
		WHERE key = ? AND val = ? AND is_encrypted = ?`,
		value, encrypted, old.Key, old.Value, old.Encrypted)
	if err != nil {
		return false, fmt.Errorf("replace value of variable %s: %w", old.Key, err)
	}
	ok, err := affected(res)
	if err != nil {
		return false, fmt.Errorf("replace value of variable %s: %w", old.Key, err)
	}
	return ok, nil
}
