package kube

import (
	"strings"
	"testing"

	"github.com/sirocco-dev/sirocco/internal/connection"
)

// FuzzFromConnection: any connection URI, and any inline kubeconfig in
// it, gives settings and a client or a clear error: never a panic, and
// never an error that quotes the kubeconfig's text.
func FuzzFromConnection(f *testing.F) {
	f.Add("kubernetes://?kube_config_path=/etc/k&namespace=jobs", "")
	f.Add("kubernetes://?in_cluster=true", "")
	f.Add("kubernetes://", kubeconfigYAML("https://127.0.0.1:6443", "tok"))
	f.Add("kubernetes://?cluster_context=other", kubeconfigYAML("https://h", "t"))
	f.Add("kubernetes://", `{"clusters":[{"name":"c","cluster":{"server":"https://h"}}],"contexts":[{"name":"x","context":{"cluster":"c"}}]}`)
	f.Add("kubernetes://", "apiVersion: v1\nclusters: [{name: c, cluster: {server: 'SECRET'}}]\ncontexts: {x: 1}")
	f.Fuzz(func(t *testing.T, uri, kubeconfig string) {
		c, err := connection.Parse(uri)
		if err != nil {
			return
		}
		c.ID = "k"
		if kubeconfig != "" {
			if c.Extra == nil {
				c.Extra = map[string]string{}
			}
			c.Extra["kube_config"] = kubeconfig
		}
		s, err := FromConnection(c)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "kubernetes connection k: ") {
				t.Fatalf("error without the connection: %v", err)
			}
			return
		}
		_ = s.String()
		cl, err := s.Connect()
		if err != nil {
			if len(kubeconfig) >= 12 && strings.Contains(err.Error(), kubeconfig) {
				t.Fatalf("the error quotes the kubeconfig: %v", err)
			}
			return
		}
		if cl.Namespace == "" {
			t.Fatal("no namespace")
		}
	})
}

// FuzzSafeLabelValue: whatever the input, the value is a valid label
// value, and a valid one is kept.
func FuzzSafeLabelValue(f *testing.F) {
	for _, s := range []string{"", "dag", "manual__2026-01-01T00:00:00+00:00", "-", "é", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeLabelValue(s)
		if err := CheckLabels("l", map[string]string{"k": got}); err != nil {
			t.Fatalf("SafeLabelValue(%q) = %q: %v", s, got, err)
		}
		if CheckLabels("l", map[string]string{"k": s}) == nil && got != s {
			t.Fatalf("valid %q changed to %q", s, got)
		}
	})
}
