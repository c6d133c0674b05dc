//go:build tools

package main

import (
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/nikolalohinski/gonja/v2"
	_ "github.com/spf13/cobra"
	_ "go.uber.org/goleak"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
