// Command kube-apiserver is Kubernetes' API server, built from the
// k8s.io/kubernetes module at the version tools/k8s/go.mod pins, for
// Sirocco's Kubernetes test bed (internal/testenv.StartKube). It is the
// upstream program's main: the module cannot be `go install`ed directly
// because its go.mod replaces the staging modules with local paths.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream's main

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
