// Package all assembles the registry of every built-in operator; main and
// the tests use it so that adding an operator is one line here.
package all

import (
	"github.com/sirocco-dev/sirocco/internal/operator"
	"github.com/sirocco-dev/sirocco/internal/operator/bash"
	"github.com/sirocco-dev/sirocco/internal/operator/branch"
	"github.com/sirocco-dev/sirocco/internal/operator/empty"
	"github.com/sirocco-dev/sirocco/internal/operator/httpop"
	"github.com/sirocco-dev/sirocco/internal/operator/kubernetes"
	"github.com/sirocco-dev/sirocco/internal/operator/latestonly"
	"github.com/sirocco-dev/sirocco/internal/operator/python"
	"github.com/sirocco-dev/sirocco/internal/operator/sensor"
	"github.com/sirocco-dev/sirocco/internal/operator/spark"
	"github.com/sirocco-dev/sirocco/internal/operator/ssh"
	"github.com/sirocco-dev/sirocco/internal/operator/triggerdag"
)

// Registry returns a fresh registry of the built-in operators.
func Registry() operator.Registry {
	r := operator.Registry{}
	for _, f := range append([]operator.Factory{bash.Factory, branch.BranchFactory, branch.ShortCircuitFactory, empty.Factory, httpop.Factory, kubernetes.Factory, python.Factory, spark.SubmitFactory, spark.RestFactory, ssh.Factory, triggerdag.Factory, latestonly.Factory}, sensor.Factories()...) {
		r[f.Spec.Name] = f
	}
	return r
}
