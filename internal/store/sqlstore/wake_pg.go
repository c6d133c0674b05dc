package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// listenPing is how long a LISTEN connection may stay silent before it is
// pinged: a connection that died without a word (a lost network) would
// otherwise wait forever.
const listenPing = 30 * time.Second

// listenRetry bounds the wait between attempts to get a lost LISTEN
// connection back.
const listenRetry = 5 * time.Second

// listenPostgres opens a connection of its own, LISTENs on wakeChannel and
// starts a goroutine that signals ch for every notification another handle
// sent, until ctx ends. A lost connection is opened again, and ch is
// signalled then, as notifications may have been missed meanwhile.
func (s *Store) listenPostgres(ctx context.Context, ch chan<- struct{}) (bool, error) {
	conn, err := listenConn(ctx, s.dsn)
	if err != nil {
		return false, err
	}
	s.wake.watchers.Add(1)
	go func() {
		defer s.wake.watchers.Done()
		for conn != nil {
			n, err := waitNotification(ctx, conn)
			switch {
			case err == nil && n != nil && n.Payload != s.wake.origin:
				signal(ch)
			case err == nil:
			default:
				closeConn(conn)
				if conn = relisten(ctx, s.dsn); conn != nil {
					signal(ch)
				}
			}
		}
	}()
	return true, nil
}

// listenConn connects and LISTENs.
func listenConn(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("listen for notifications: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+wakeChannel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen for notifications: %w", err)
	}
	return conn, nil
}

// waitNotification returns the next notification, or nil after a silence
// of listenPing in which the connection answered a ping.
func waitNotification(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	wctx, cancel := context.WithTimeout(ctx, listenPing)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	if err != nil && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
		return nil, conn.Ping(ctx)
	}
	return n, err
}

// relisten opens the LISTEN connection again, retrying with a growing
// pause, and returns nil once ctx has ended.
func relisten(ctx context.Context, dsn string) *pgx.Conn {
	pause := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		if conn, err := listenConn(ctx, dsn); err == nil {
			return conn
		}
		pause = min(2*pause, listenRetry)
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
