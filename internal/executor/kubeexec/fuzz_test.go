package kubeexec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParseExecutorConfig: whatever mapping a DAG file gives as
// executor_config, reading it never panics, and every problem is an
// error naming a field of executor_config.
func FuzzParseExecutorConfig(f *testing.F) {
	for _, s := range []string{
		"image: img:1\nresources: {request_cpu: 250m, limit_memory: 1Gi}",
		"resources: {requests: {cpu: 1, nvidia.com/gpu: 2}, limits: {memory: 2Gi}}",
		"tolerations: [{key: k, operator: Exists, effect: NoExecute, toleration_seconds: 30}]",
		"node_selector: {a: b}\nlabels: {x: y}\nannotations: {n: 1}",
		"resources: {request_cpu: [1]}\ntolerations: [1, {operator: x}]",
		"labels: {\"\": \"\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var m map[string]any
		if yaml.Unmarshal([]byte(src), &m) != nil || m == nil {
			return
		}
		_, err := ParseExecutorConfig(m)
		if err == nil {
			return
		}
		for _, leaf := range leaves(err) {
			if !strings.HasPrefix(leaf.Error(), "executor_config.") {
				t.Errorf("error %q does not name its field", leaf)
			}
		}
	})
}

// leaves lists the errors of a tree of errors.Join.
func leaves(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}

// FuzzDecodeHandle: any stored handle is either refused or names a valid
// namespace and pod name, and encodes back to one that decodes the same.
func FuzzDecodeHandle(f *testing.F) {
	f.Add([]byte(`{"kind":"kubernetes_worker_pod","version":1,"namespace":"ns","name":"p-1"}`))
	f.Add([]byte(`{"kind":"kubernetes_worker_pod","version":1,"namespace":"ns","name":"p","created":true,"task":{"kind":"x"}}`))
	f.Add([]byte(`{"kind":"kubernetes_worker_pod","version":1,"namespace":"NS","name":"../p"}`))
	f.Add([]byte(`{"kind":"process","version":1,"pid":1}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHandle(b)
		if err != nil {
			return
		}
		if !IsHandle(b) {
			t.Fatalf("decoded %q but IsHandle says no", b)
		}
		again, err := DecodeHandle(h.Encode())
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", h.Encode(), err)
		}
		if again.Namespace != h.Namespace || again.Name != h.Name || again.Created != h.Created {
			t.Fatalf("round trip changed %+v into %+v", h, again)
		}
	})
}
