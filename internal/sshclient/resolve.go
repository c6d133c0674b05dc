package sshclient

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// Lookup finds a connection by id; connection.Resolver.Get is one.
type Lookup func(ctx context.Context, id string) (connection.Connection, error)

// maxJumps bounds a chain of bastions.
const maxJumps = 8

// Resolve reads the settings of connection id and follows its proxy_jump
// (see ResolveJumps).
func Resolve(ctx context.Context, lookup Lookup, id string, env Env) (*Settings, error) {
	c, err := lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err := FromConnection(c, env)
	if err != nil {
		return nil, err
	}
	return s, ResolveJumps(ctx, lookup, s, env)
}

// ResolveJumps sets s.Jump from s.ProxyJump, recursively. A proxy_jump
// that holds '@' or ':' (or starts with ssh://) is an address,
// [user@]host[:port], reached with the target's own keys and known_hosts
// (as OpenSSH's -J does) but not its host_key pin; anything else is the id
// of another ssh connection, with its own settings and maybe its own
// proxy_jump. Loops and chains longer than 8 are errors.
func ResolveJumps(ctx context.Context, lookup Lookup, s *Settings, env Env) error {
	return resolveJumps(ctx, lookup, s, env, []string{s.ConnID})
}

func resolveJumps(ctx context.Context, lookup Lookup, s *Settings, env Env, chain []string) error {
	if s.ProxyJump == "" {
		return nil
	}
	if isJumpAddress(s.ProxyJump) {
		j, err := jumpFromAddress(s)
		if err != nil {
			return fmt.Errorf("ssh connection %s: extra proxy_jump: %w", s.ConnID, err)
		}
		s.Jump = j
		return nil
	}
	id := s.ProxyJump
	if err := connection.ValidateID(id); err != nil {
		return fmt.Errorf("ssh connection %s: extra proxy_jump: %w (or write user@host:port)", s.ConnID, err)
	}
	if slices.Contains(chain, id) {
		return fmt.Errorf("ssh connection %s: proxy_jump loop: %s -> %s", s.ConnID, strings.Join(chain, " -> "), id)
	}
	if len(chain) > maxJumps {
		return fmt.Errorf("ssh connection %s: more than %d proxy_jump hops: %s", s.ConnID, maxJumps, strings.Join(chain, " -> "))
	}
	c, err := lookup(ctx, id)
	if err != nil {
		return fmt.Errorf("ssh connection %s: proxy_jump: %w", s.ConnID, err)
	}
	j, err := FromConnection(c, env)
	if err != nil {
		return fmt.Errorf("ssh connection %s: proxy_jump: %w", s.ConnID, err)
	}
	s.Jump = j
	return resolveJumps(ctx, lookup, j, env, append(chain, id))
}

func isJumpAddress(v string) bool {
	return strings.ContainsAny(v, "@:") || strings.HasPrefix(v, "ssh://")
}

// jumpFromAddress builds the settings of a [ssh://][user@]host[:port]
// bastion from the target's: same login methods and known_hosts, default
// port 22, the target's user unless one is given.
func jumpFromAddress(target *Settings) (*Settings, error) {
	v := strings.TrimPrefix(target.ProxyJump, "ssh://")
	j := *target
	j.ProxyJump, j.Jump, j.HostKeys = "", nil, nil
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		j.User, v = v[:i], v[i+1:]
		if j.User == "" {
			return nil, fmt.Errorf("%q has an empty user before '@'", target.ProxyJump)
		}
	}
	host, port := v, ""
	if h, p, err := net.SplitHostPort(v); err == nil {
		host, port = h, p
	} else if strings.Count(v, ":") == 1 {
		return nil, fmt.Errorf("%q: %w", target.ProxyJump, err)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if err := checkHost(host); err != nil {
		return nil, err
	}
	j.Host, j.Port = host, DefaultPort
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q of %q is not a number from 1 to 65535", port, target.ProxyJump)
		}
		j.Port = n
	}
	return &j, nil
}
