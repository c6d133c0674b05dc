// Command kube-scheduler is Kubernetes' scheduler, built from the
// k8s.io/kubernetes module at the version tools/k8s/go.mod pins, for
// Sirocco's Kubernetes test bed: it binds test pods to the kwok node and
// records FailedScheduling events for pods no node fits.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
