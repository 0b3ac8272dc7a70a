// Command rancher-crds writes the two Rancher CRDs the --rancher-kubeconfig tests install, built
// the way Rancher builds them at run time (neither has a static file in the Rancher release that
// Harvester v1.6.0 pins, github.com/rancher/rancher/pkg/apis v0.0.0-20240919204204-3da2ae0cabd1):
//
//   - provisioning.cattle.io/v1 Cluster: rancher/rancher pkg/crds/provisioningv2/crds.go
//     newRancherCRD(&v1.Cluster{}) through wrangler's crd.CRD{SchemaObject, Status: true}.
//
//   - rke-machine.cattle.io/v1 HarvesterMachine: Rancher's dynamicschema controller
//     ("dynamic-driver-crd" handler) builds <driver>Machine from the node driver's DynamicSchema
//     (spec) and rkev1.RKEMachineStatus (status) through wrangler's openapi.ToOpenAPI. The
//     DynamicSchema comes from the driver binary's flags at run time; the spec fields below are
//     the Harvester node driver's (harvester/docker-machine-driver-harvester, flags
//     --harvester-vm-namespace etc., as Rancher camel-cases them) that the tests use.
//
//     rancher-crds OUT_DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	provv1 "github.com/rancher/rancher/pkg/apis/provisioning.cattle.io/v1"
	rkev1 "github.com/rancher/rancher/pkg/apis/rke.cattle.io/v1"
	"github.com/rancher/wrangler/v3/pkg/crd"
	"github.com/rancher/wrangler/v3/pkg/schemas"
	"github.com/rancher/wrangler/v3/pkg/schemas/openapi"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rancher-crds OUT_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "rancher-crds:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	cluster := crd.CRD{
		GVK:          schema.GroupVersionKind{Group: "provisioning.cattle.io", Version: "v1"},
		Status:       true,
		SchemaObject: &provv1.Cluster{},
		Labels:       map[string]string{"auth.cattle.io/cluster-indexed": "true"},
	}.WithColumn("Ready", ".status.ready").WithColumn("Kubeconfig", ".status.clientSecretName")
	if err := write(out, "provisioning.cattle.io_clusters.yaml", cluster); err != nil {
		return err
	}

	all, err := schemas.NewSchemas()
	if err != nil {
		return err
	}
	common, err := all.Import(rkev1.RKECommonNodeConfig{})
	if err != nil {
		return err
	}
	fields := map[string]schemas.Field{
		"common":           {Type: common.ID},
		"providerID":       {Type: "string"},
		"vmNamespace":      {Type: "string"},
		"cpuCount":         {Type: "string"},
		"memorySize":       {Type: "string"},
		"diskSize":         {Type: "string"},
		"imageName":        {Type: "string"},
		"networkName":      {Type: "string"},
		"sshUser":          {Type: "string"},
		"diskInfo":         {Type: "string"},
		"networkInfo":      {Type: "string"},
		"vmAffinity":       {Type: "string"},
		"userData":         {Type: "string"},
		"networkData":      {Type: "string"},
		"enableEfi":        {Type: "boolean"},
		"enableSecureBoot": {Type: "boolean"},
	}
	if err := all.AddSchema(schemas.Schema{ID: "harvesterSpec", ResourceFields: fields}); err != nil {
		return err
	}
	status, err := all.Import(rkev1.RKEMachineStatus{})
	if err != nil {
		return err
	}
	if err := all.AddSchema(schemas.Schema{ID: "harvesterMachine", ResourceFields: map[string]schemas.Field{
		"spec":   {Type: "harvesterSpec"},
		"status": {Type: status.ID},
	}}); err != nil {
		return err
	}
	props, err := openapi.ToOpenAPI("harvesterMachine", all)
	if err != nil {
		return err
	}
	machine := crd.CRD{
		GVK:    schema.GroupVersionKind{Group: "rke-machine.cattle.io", Version: "v1", Kind: "HarvesterMachine"},
		Schema: props,
		Labels: map[string]string{"cluster.x-k8s.io/v1beta1": "v1", "auth.cattle.io/cluster-indexed": "true"},
		Status: true,
	}
	return write(out, "rke-machine.cattle.io_harvestermachines.yaml", machine)
}

func write(out, name string, c crd.CRD) error {
	obj, err := c.ToCustomResourceDefinition()
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, name), data, 0o644)
}
