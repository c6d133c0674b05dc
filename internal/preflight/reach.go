package preflight

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// defaultPorts are the usual ports of connection types and host
// protocols, used when a connection has none.
var defaultPorts = map[string]int{
	"ssh": 22, "sftp": 22, "ftp": 21, "http": 80, "https": 443, "postgres": 5432, "mysql": 3306,
	"redis": 6379, "spark": 7077, "kafka": 9092, "smtp": 25,
}

// DialTarget returns the host:port a connection points at: the host
// without a protocol prefix or path, and the port or the usual one of its
// protocol or type.
func DialTarget(c connection.Connection) (string, error) {
	host, protocol := c.Host, ""
	if p, h, ok := strings.Cut(host, "://"); ok {
		protocol, host = strings.ToLower(p), h
	}
	host, _, _ = strings.Cut(host, "/")
	port := c.Port
	if h, p, err := net.SplitHostPort(host); err == nil {
		// The host may carry its own port: https://api:8443, [::1]:22.
		host = h
		if n, err := strconv.Atoi(p); err == nil && port == 0 {
			port = n
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // [::1]
	if host == "" {
		return "", fmt.Errorf("connection %s (%s) has no host to reach", c.ID, c.Type)
	}
	if port == 0 {
		port = defaultPorts[protocol]
	}
	if port == 0 {
		port = defaultPorts[c.Type]
	}
	if port == 0 {
		return "", fmt.Errorf("connection %s (%s) has no port and its type has no usual one", c.ID, c.Type)
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("connection %s (%s): port %d is outside 1..65535", c.ID, c.Type, port)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(host, "[] \t\r\n") {
		return "", fmt.Errorf("connection %s (%s): host %q is not a host name or address", c.ID, c.Type, host)
	}
	return addr, nil
}

// reachChecks are the dns and tcp steps to addr, or to the connection's
// own address when addr is empty.
func (ck *Checker) reachChecks(c connection.Connection, addr string) []Check {
	if addr == "" {
		var err error
		if addr, err = DialTarget(c); err != nil {
			return []Check{{Name: "target", Target: c.ID, Run: func(context.Context) (string, error) { return "", err }}}
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return []Check{{Name: "target", Target: addr, Run: func(context.Context) (string, error) {
			return "", fmt.Errorf("address %q: %w", addr, err)
		}}}
	}
	return []Check{
		{Name: StepDNS, Target: host, Run: func(ctx context.Context) (string, error) { return resolve(ctx, host) }},
		{Name: StepTCP, Target: addr, Needs: []string{StepDNS}, Run: func(ctx context.Context) (string, error) { return dialTCP(ctx, addr) }},
	}
}

// resolve looks host up and lists its addresses.
func resolve(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return "an IP address, nothing to resolve", nil
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return "", err // *net.DNSError: "lookup x.invalid: no such host"
	}
	return "resolves to " + strings.Join(addrs, ", "), nil
}

// dialTCP opens and closes a TCP connection to addr.
func dialTCP(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return "connected to " + conn.RemoteAddr().String(), nil
}
