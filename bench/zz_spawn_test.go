package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-dev/sirocco/internal/operator/process"
	"github.com/sirocco-dev/sirocco/internal/tasklog"
)

func BenchmarkZZSpawn(b *testing.B) {
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("bare", func() error { return exec.Command("bash", "-c", "true").Run() })
	run("pgid", func() error {
		c := exec.Command("bash", "-c", "true")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		return c.Run()
	})
	run("pipes", func() error {
		c := exec.Command("bash", "-c", "true")
		c.Stdout, c.Stderr = io.Discard, io.Discard
		return c.Run()
	})
	run("env", func() error {
		c := exec.Command("bash", "-c", "true")
		c.Env = append(os.Environ(), "A=1", "B=2", "C=3", "D=4", "E=5")
		c.Dir = b.TempDir()
		return c.Run()
	})
	dir := workDir(b)
	i := 0
	run("log-only", func() error {
		i++
		lw, err := tasklog.Create(filepath.Join(dir, "y", fmt.Sprint(i), "a.log"))
		if err != nil {
			return err
		}
		return lw.Close()
	})
	run("process.Run+log", func() error {
		i++
		lw, err := tasklog.Create(filepath.Join(dir, "x", time.Now().String(), "a.log"))
		if err != nil {
			return err
		}
		defer lw.Close()
		return process.Run(context.Background(), process.Spec{Argv: []string{"bash", "-c", "true"}, Dir: dir,
			Env: process.Environ(nil, map[string]string{"A": "b"}, false), Stdout: &process.LastLine{W: lw}, Stderr: lw,
			SaveHandle: func(context.Context, []byte) error { return nil }})
	})
}
