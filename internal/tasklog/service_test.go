package tasklog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestMaskingHandlerMasksServiceLog: secrets in a service log record's
// message, string attributes, errors, groups, bound attributes and
// printed values are masked, plain or encoded; other values pass.
func TestMaskingHandlerMasksServiceLog(t *testing.T) {
	t.Parallel()
	const secret = "svc-Secret-4a7e"
	var out bytes.Buffer
	secrets := &Secrets{}
	log := slog.New(NewMaskingHandler(slog.NewTextHandler(&out, nil), secrets))
	log.Info("before " + secret) // not known yet
	secrets.Add(secret)
	log.With("bound", "x "+secret).WithGroup("g").Info("msg "+secret,
		"s", secret, "err", errors.New("dial postgres://u:"+secret+"@db: refused"),
		slog.Group("inner", "b64", base64.StdEncoding.EncodeToString([]byte(secret))),
		"any", []string{secret}, "n", 42)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], secret) {
		t.Fatalf("log:\n%s", out.String())
	}
	if strings.Contains(lines[1], secret) || strings.Contains(lines[1], base64.StdEncoding.EncodeToString([]byte(secret))) {
		t.Errorf("a secret reached the service log:\n%s", lines[1])
	}
	for _, want := range []string{`msg="msg ***"`, `bound="x ***"`, "g.n=42", `g.err="dial postgres://u:***@db: refused"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("log line lacks %s:\n%s", want, lines[1])
		}
	}
}
