// Package kubebed runs Sirocco's local Kubernetes test bed: etcd,
// kube-apiserver and kube-scheduler (built by scripts/k8s.sh from the
// tools/k8s module) and kwok faking one node, all on free loopback ports,
// with an admin kubeconfig. Pods run no containers: kwok's Stages
// (stages.yaml) move them to Running and then Succeeded or Failed as
// their annotations ask (RunForAnnotation, ...); a bare pod runs 100ms
// and succeeds.
//
// Two users: internal/testenv.StartKube runs a bed per test, killed with
// the test binary; cmd/kubebed (`scripts/k8s.sh up` / `down`) runs a
// detached bed for a user, recorded in a State file so that `down` finds
// its processes again.
//
//	Start: certificates -> etcd -> kube-apiserver (/readyz) -> kubeconfig
//	       -> default ServiceAccount -> kube-scheduler (/readyz)
//	       -> ClusterLogs CRD -> kwok (/healthz) -> node Ready
//	Stop:  kwok, kube-scheduler, kube-apiserver, etcd (SIGTERM, then SIGKILL)
package kubebed
