package sqlstore

import "context"

// MigrateTo brings the schema up to version v only, for tests of later
// migrations.
func (s *Store) MigrateTo(ctx context.Context, v int) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, ms[:v])
}

// Exec runs a statement written with ? placeholders, for tests that fill
// an old schema.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.exec(ctx, query, args...)
	return err
}
