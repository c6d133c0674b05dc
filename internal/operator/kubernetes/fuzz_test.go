package kubernetes

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzReadConfig: any task fields (as YAML decodes them) read into a pod
// or give an error naming a field: never a panic.
func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		"image: i\nresources: {request_cpu: '1', request_memory: 2Gi}\nimage_pull_secrets: [{name: s}]",
		"image: i\naffinity: {node_affinity: {required_during_scheduling_ignored_during_execution: {node_selector_terms: [{match_expressions: [{key: k, operator: In, values: [v]}]}]}}}",
		"image: i\ntolerations: [{key: k, toleration_seconds: 3}]\nvolumes: [{name: v, config_map: {name: c}}]",
		"image: i\nenv_vars: {A: 1}\nsecrets: [{deploy_type: volume, deploy_target: /s, secret: s, key: k}]",
		"image: i\ninit_containers: [{name: init, image: busybox, command: [sh]}]\nports: [{container_port: '80'}]",
		"image: i\ncontainer_resources: {limits: {cpu: 1e3}}\nsecurity_context: {run_as_user: 1.5}",
		"image: i\nname: Job_1\nrandom_name_suffix: false",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var m map[string]any
		if yaml.Unmarshal([]byte(src), &m) != nil || m == nil {
			return
		}
		c, err := readConfig(m)
		if err != nil {
			return
		}
		name, err := podName(c, "task")
		if err != nil {
			return
		}
		p := buildPod(c, tryIdentity{DagID: "d", RunID: "r", TaskID: "t", Try: 1}, name, "ns", nil, nil)
		if p.Spec.Containers[0].Image == "" || p.Labels["try_number"] != "1" {
			t.Fatalf("pod %+v", p)
		}
	})
}

// FuzzDecodeHandle: a stored handle, however damaged, decodes or is
// refused: never a panic, and what decodes names a valid pod.
func FuzzDecodeHandle(f *testing.F) {
	f.Add(goodHandle)
	f.Add(`{"kind":"kubernetes_pod"}`)
	f.Add(`{"kind":"kubernetes_pod","version":1,"labels":null,"log":{"time":"x"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decodeHandle([]byte(s))
		if err != nil {
			return
		}
		if h.Name == "" || h.Namespace == "" || h.Labels["try_number"] == "" {
			t.Fatalf("accepted %+v", h)
		}
		if _, err := decodeHandle(h.encode()); err != nil {
			t.Fatalf("re-encoded handle refused: %v", err)
		}
	})
}
