//go:build tools

// The API packages scripts/build-crds.sh runs controller-gen over: imported here so that
// go.mod and go.sum pin them and everything they import.
package main

import (
	_ "github.com/harvester/harvester/pkg/apis/harvesterhci.io/v1beta1"
	_ "github.com/longhorn/longhorn-manager/k8s/pkg/apis/longhorn/v1beta1"
	_ "github.com/longhorn/longhorn-manager/k8s/pkg/apis/longhorn/v1beta2"
)
