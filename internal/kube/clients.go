package kube

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultMaxClients bounds a Clients cache when NewClients is given 0: a
// process talks to a handful of clusters, each through a few connections.
const DefaultMaxClients = 32

// The in-cluster service account's files, as rest.InClusterConfig reads
// them: a rotated token or CA changes the key of the default client.
const (
	inClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	inClusterCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// Clients caches built clients per connection settings, so a try reuses
// the client of the tries before it instead of reading and parsing the
// kubeconfig and building a client again (a quarter of a pod task's
// CPU). The key is a digest of the settings and of the state (size,
// modification time) of every file they read, so an edited kubeconfig or
// a rotated service-account token builds a new client; only a stat is
// made per Connect. The clients share their HTTP transports through
// client-go's own transport cache. The cache holds at most its bound,
// dropping the least recently used. Safe for concurrent use; a nil
// *Clients caches nothing.
type Clients struct {
	max int

	mu      sync.Mutex
	entries map[clientKey]*list.Element // of *clientEntry
	lru     list.List                   // front: most recently used
	builds  int                         // clients built, for tests
}

type clientKey [sha256.Size]byte

// clientEntry is what a Connect builds from the settings' sources; the
// namespace of the settings themselves is applied per call.
type clientEntry struct {
	key       clientKey
	config    *rest.Config
	client    Interface
	namespace string // the kubeconfig context's or the service account's
}

// NewClients returns an empty cache of at most max clients
// (DefaultMaxClients for 0 or less).
func NewClients(max int) *Clients {
	if max <= 0 {
		max = DefaultMaxClients
	}
	return &Clients{max: max, entries: map[clientKey]*list.Element{}}
}

// Connect returns the cluster of s, reusing the client built for the same
// settings and unchanged files; on a nil cache it is s.Connect(). The
// returned Config is shared: callers read it, never change it.
func (c *Clients) Connect(s *Settings) (*Cluster, error) {
	if c == nil {
		return s.Connect()
	}
	key := s.cacheKey()
	if e := c.get(key); e != nil {
		return s.cluster(e), nil
	}
	e, err := s.build()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	e.key = key
	return s.cluster(c.put(e)), nil
}

// Len is the number of clients held.
func (c *Clients) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Clients) get(key clientKey) *clientEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*clientEntry)
}

// put stores e, unless a concurrent Connect stored one for its key first
// (then that one is returned, so equal settings get one client).
func (c *Clients) put(e *clientEntry) *clientEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.builds++
	if el, ok := c.entries[e.key]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*clientEntry)
	}
	c.entries[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*clientEntry).key)
	}
	return e
}

// cacheKey digests what the client of s is built from: the settings that
// choose and shape it (not the connection id nor its namespace, applied
// per call) and the state of the files the build would read.
func (s *Settings) cacheKey() clientKey {
	h := sha256.New()
	field := func(v string) {
		_ = binary.Write(h, binary.LittleEndian, uint64(len(v)))
		h.Write([]byte(v))
	}
	field(fmt.Sprintf("in_cluster=%t verify=%t", s.InCluster, !s.DisableVerifySSL))
	field(s.Context)
	inline := sha256.Sum256([]byte(s.KubeConfig))
	field(string(inline[:]))
	switch {
	case s.InCluster:
		inClusterState(h, field)
	case s.KubeConfigPath != "":
		field(expandHome(s.KubeConfigPath))
		fileState(h, expandHome(s.KubeConfigPath))
	case s.KubeConfig != "":
	default:
		inClusterState(h, field)
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		for _, p := range rules.GetLoadingPrecedence() {
			field(p)
			fileState(h, p)
		}
	}
	var k clientKey
	h.Sum(k[:0])
	return k
}

// inClusterState digests what rest.InClusterConfig reads.
func inClusterState(h hash.Hash, field func(string)) {
	field(os.Getenv("KUBERNETES_SERVICE_HOST"))
	field(os.Getenv("KUBERNETES_SERVICE_PORT"))
	for _, p := range []string{inClusterTokenFile, inClusterCAFile, inClusterNamespaceFile} {
		fileState(h, p)
	}
}

// fileState digests a file's size and modification time (following
// symbolic links, as a mounted secret's are swapped), or its absence.
func fileState(h hash.Hash, path string) {
	fi, err := os.Stat(filepath.Clean(path))
	if err != nil {
		h.Write([]byte{0})
		return
	}
	h.Write([]byte{1})
	_ = binary.Write(h, binary.LittleEndian, []int64{fi.Size(), fi.ModTime().UnixNano()})
}
