package tasklog

import (
	"bytes"
	"io"
	"sync"
)

// MaskedWriter passes complete lines to an io.Writer with every secret
// replaced by "***", without timestamps. `tasks test` prints a task's output
// to the terminal through it, so a test run shows no more than the task's
// log would.
type MaskedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte
	secrets [][]byte
}

// NewMasked returns a MaskedWriter writing to w.
func NewMasked(w io.Writer) *MaskedWriter { return &MaskedWriter{w: w} }

// AddSecret masks s in every line written from now on; values shorter than
// 4 bytes are ignored, as in Writer.AddSecret.
func (m *MaskedWriter) AddSecret(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = addSecret(m.secrets, s)
}

// Write passes on every complete line, masked; a partial last line waits
// for its end or Flush, so a secret split across writes is still masked.
func (m *MaskedWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data := append(m.partial, p...)
	m.partial = nil
	end := bytes.LastIndexByte(data, '\n') + 1
	if len(data)-end > maxPartial {
		end = len(data)
	}
	if end < len(data) {
		m.partial = append([]byte(nil), data[end:]...)
	}
	if end > 0 {
		if _, err := m.w.Write(mask(m.secrets, data[:end])); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes a partial last line.
func (m *MaskedWriter) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.partial) == 0 {
		return nil
	}
	_, err := m.w.Write(mask(m.secrets, m.partial))
	m.partial = nil
	return err
}
