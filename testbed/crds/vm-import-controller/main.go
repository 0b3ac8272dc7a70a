//go:build ignore

// Prints the CRDs harvester/vm-import-controller registers at run time: its pkg/crd.List()
// (wrangler crd.CRD values built from its API types), turned into CustomResourceDefinitions
// by wrangler's own ToCustomResourceDefinition, the call its crd.Create makes through
// wrangler's Factory. Run inside a checkout of that repository (its go.mod pins wrangler):
// scripts/regen-vm-import-crds.sh does. The Go module proxy does not serve that module, so
// the output is committed as tests/crds/migration.harvesterhci.io.yaml.
package main

import (
	"fmt"
	"os"

	"github.com/harvester/vm-import-controller/pkg/crd"
	"sigs.k8s.io/yaml"
)

func main() {
	for _, c := range crd.List() {
		obj, err := c.ToCustomResourceDefinition()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		data, err := yaml.Marshal(obj)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("---\n%s", data)
	}
}
