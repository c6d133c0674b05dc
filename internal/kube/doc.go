// Package kube reaches Kubernetes for the operators that run work there:
// it reads a connection of type kubernetes (Airflow's KubernetesHook
// extras) into Settings, builds a core/v1 client from them (client.go:
// client-go's REST client without its Clientset, whose API groups would
// be registered at every start of the binary), and holds what every
// pod-running operator needs:
//
//   - names and labels: pod names from a base and a random suffix checked
//     against DNS-1123, label values made safe as Airflow's
//     make_safe_label_value, the labels that name a try;
//   - Tracker: one pod followed with a watch that resumes from the last
//     resourceVersion (a dropped watch, an apiserver restart, an expired
//     version are all survived; nothing polls), reporting each new state
//     and the pod's disappearance;
//   - LogFollower: a container's log streamed with timestamps and resumed
//     after a dropped stream from the last line written, so a line is
//     written once;
//   - DeletePod: a delete with a grace period, then a forced one, bounded,
//     that never deletes a pod of the same name but another UID.
//
// The connection's forms (URI, object, SIROCCO_CONN_<ID>) are the
// connection package's; an inline kube_config is a secret there.
package kube
