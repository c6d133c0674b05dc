package preflight

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// FuzzScanBanner: whatever a server sends, the banner step ends without
// a panic, and what it reports fits on one printable line.
func FuzzScanBanner(f *testing.F) {
	for _, s := range []string{
		"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "hello\r\nSSH-2.0-x\r\n", "SSH-1.5-old\n", "", "\n\n\n",
		"HTTP/1.1 400 Bad Request\r\n\r\n", strings.Repeat("a", 300) + "\n", "SSH-2.0-\x00\x1b[31m\xff\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := scanBanner(bufio.NewReaderSize(strings.NewReader(string(data)), maxBannerLine+1))
		for _, s := range []string{got, errText(err)} {
			if strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) {
				t.Fatalf("unprintable report %q", s)
			}
		}
		if err == nil && !strings.HasPrefix(got, "SSH-2.0-") && !strings.HasPrefix(got, "SSH-1.99-") {
			t.Fatalf("accepted %q", got)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzDialTarget: any host and port give a host:port that splits back,
// or an error; never a panic.
func FuzzDialTarget(f *testing.F) {
	for _, s := range []string{"db", "https://api:8443/v1", "spark://", "[::1]", "http://[::1]:80", "a:b:c", "://", "h/x"} {
		f.Add(s, 0, "postgres")
	}
	f.Add("h", 22, "ssh")
	f.Add("h", 0, "unknown")
	f.Fuzz(func(t *testing.T, host string, port int, typ string) {
		addr, err := DialTarget(connection.Connection{ID: "c", Type: typ, Host: host, Port: port})
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("DialTarget(%q, %d, %q) = %q, which does not split: %v", host, port, typ, addr, err)
		}
	})
}

// TestDialTarget: hosts as users write them.
func TestDialTarget(t *testing.T) {
	cases := []struct {
		host string
		port int
		typ  string
		want string // "" = an error
	}{
		{"db", 0, "postgres", "db:5432"},
		{"db", 6000, "postgres", "db:6000"},
		{"https://api:8443/v1", 0, "http", "api:8443"},
		{"https://api/v1", 0, "http", "api:443"},
		{"[::1]", 0, "ssh", "[::1]:22"},
		{"[::1]:2222", 0, "ssh", "[::1]:2222"},
		{"::1", 0, "ssh", "[::1]:22"},
		{"edge:2222", 0, "ssh", "edge:2222"},
		{"h:-1", 0, "ssh", ""},
		{"", 0, "ssh", ""},
		{"h", 0, "unknown", ""},
		{"a b", 0, "ssh", ""},
	}
	for _, tc := range cases {
		got, err := DialTarget(connection.Connection{ID: "c", Type: tc.typ, Host: tc.host, Port: tc.port})
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("DialTarget(%q, %d, %s) = %q, %v; want %q", tc.host, tc.port, tc.typ, got, err, tc.want)
		}
	}
}

// FuzzAPIServerAddr: whatever a kubeconfig gives as the server, the dns
// and tcp steps get a host:port that splits back, or an error; never a
// panic.
func FuzzAPIServerAddr(f *testing.F) {
	for _, s := range []string{"https://10.0.0.1:6443", "https://k8s.example.com", "http://h", "h:6443", "h",
		"https://[::1]:6443/prefix", "", "https://", "://", "https://user:pw@h:1/x?y#z", "unix:///run/k8s.sock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, server string) {
		addr, err := apiserverAddr("c", server)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("apiserverAddr(%q) = %q, which does not split: %v", server, addr, err)
		}
	})
}

// TestAPIServerAddr: servers as kubeconfigs and in-cluster configs write
// them.
func TestAPIServerAddr(t *testing.T) {
	for _, tc := range []struct{ server, want string }{
		{"https://10.0.0.1:6443", "10.0.0.1:6443"},
		{"https://k8s.example.com", "k8s.example.com:443"},
		{"https://k8s.example.com/prefix/", "k8s.example.com:443"},
		{"http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"https://[::1]:6443", "[::1]:6443"},
		{"https://user:pw@h:1/x", "h:1"},
		{"h:6443", "h:6443"},
		{"h", "h:443"},
		{"", ""},
		{"https://", ""},
	} {
		got, err := apiserverAddr("c", tc.server)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("apiserverAddr(%q) = %q, %v; want %q", tc.server, got, err, tc.want)
		}
	}
}
