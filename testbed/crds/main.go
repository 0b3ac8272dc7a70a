// Command crds writes the CustomResourceDefinitions of one Harvester release as YAML files,
// from the upstream Go modules pinned in go.mod. scripts/build-crds.sh runs it.
//
//	crds kubevirt OUT_DIR
//	    KubeVirt's CRDs, built by the same functions virt-operator installs them with
//	    (kubevirt/kubevirt pkg/virt-operator/resource/generate/install/strategy.go).
//	crds finish SOURCE OUT_DIR [--module DIR] FILE...
//	    Takes controller-gen's output for SOURCE (harvester or longhorn; copy for upstream
//	    files used as they are), applies the steps that upstream applies after controller-gen
//	    (see finish below), and writes one file per CRD, <group>_<plural>.yaml.
//	crds k8s-1.20 IN_DIR OUT_DIR
//	    Copies the CRDs for a Kubernetes 1.20 kube-apiserver, which rejects an empty-string
//	    schema default (`default: ""`, that Kubernetes 1.30+ API types put on
//	    LocalObjectReference.name): removes those defaults and reports each one on stderr.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crds:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "kubevirt":
		return kubevirt(args[1])
	case len(args) >= 4 && args[0] == "finish":
		source, out, files := args[1], args[2], args[3:]
		moduleDir := ""
		if len(files) >= 2 && files[0] == "--module" {
			moduleDir, files = files[1], files[2:]
		}
		return finish(source, out, moduleDir, files)
	case len(args) == 3 && args[0] == "k8s-1.20":
		return k8s120(args[1], args[2])
	default:
		return errors.New("usage: crds kubevirt OUT_DIR | crds finish SOURCE OUT_DIR [--module DIR] FILE... | crds k8s-1.20 IN_DIR OUT_DIR")
	}
}

// kubevirt writes every CRD virt-operator's install strategy creates, plus the KubeVirt CRD
// itself (which the operator's own manifest carries).
func kubevirt(out string) error {
	functions := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
		components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
		components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
		components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineCloneCrd, components.NewKubeVirtCrd,
	}
	for _, f := range functions {
		crd, err := f()
		if err != nil {
			return err
		}
		data, err := yaml.Marshal(crd)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return err
		}
		// The typed object marshals an empty status and a null creationTimestamp; a CRD
		// file to create carries neither.
		delete(doc, "status")
		if meta, ok := doc["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		if err := write(out, doc); err != nil {
			return err
		}
	}
	return nil
}

// finish applies what each upstream does to controller-gen's output before it ships the files:
//   - harvester: scripts/generate-manifest replaces the controller-gen version annotation
//     with `{}` (harvester/harvester scripts/generate-manifest).
//   - longhorn: k8s/generate_code.sh runs kustomize over the output: label
//     `longhorn-manager: ""` and the patches in the module's k8s/patches/crd (conversion
//     webhook, preserveUnknownFields), merged here the way kustomize merges these map-only
//     patches (longhorn/longhorn-manager k8s/generate_code.sh).
//   - copy: upstream CRD files used as they are (one file per CRD, status dropped).
func finish(source, out, moduleDir string, files []string) error {
	var docs []map[string]any
	for _, f := range files {
		d, err := readDocs(f)
		if err != nil {
			return err
		}
		docs = append(docs, d...)
	}
	if len(docs) == 0 {
		return fmt.Errorf("%s: no CRD in %v", source, files)
	}
	var patches []map[string]any
	if source == "longhorn" {
		if moduleDir == "" {
			return errors.New("longhorn: --module DIR is needed for k8s/patches/crd")
		}
		var err error
		patches, err = readTree(filepath.Join(moduleDir, "k8s", "patches", "crd"))
		if err != nil {
			return err
		}
		if len(patches) == 0 {
			return errors.New("longhorn: no patch in k8s/patches/crd")
		}
	}
	for _, doc := range docs {
		if doc["kind"] != "CustomResourceDefinition" {
			return fmt.Errorf("%s: a %v, not a CustomResourceDefinition", source, doc["kind"])
		}
		meta, ok := doc["metadata"].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: a CRD without metadata", source)
		}
		switch source {
		case "harvester":
			delete(meta, "annotations")
		case "longhorn":
			labels, _ := meta["labels"].(map[string]any)
			if labels == nil {
				labels = map[string]any{}
			}
			labels["longhorn-manager"] = ""
			meta["labels"] = labels
			for _, p := range patches {
				pm, _ := p["metadata"].(map[string]any)
				if pm != nil && pm["name"] == meta["name"] {
					patch := map[string]any{}
					for k, v := range p {
						if k != "apiVersion" && k != "kind" && k != "metadata" {
							patch[k] = v
						}
					}
					merge(doc, patch)
				}
			}
		case "copy":
		default:
			return fmt.Errorf("unknown source %q", source)
		}
		delete(meta, "creationTimestamp")
		delete(doc, "status")
		if err := write(out, doc); err != nil {
			return err
		}
	}
	return nil
}

func k8s120(in, out string) error {
	entries, err := os.ReadDir(in)
	if err != nil {
		return err
	}
	total := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		docs, err := readDocs(filepath.Join(in, e.Name()))
		if err != nil {
			return err
		}
		for _, doc := range docs {
			var removed []string
			dropEmptyDefaults(doc, "", &removed)
			if len(removed) > 0 {
				fmt.Fprintf(os.Stderr, "crds: for Kubernetes 1.20, removed %d `default: \"\"` from %s, first at %s\n",
					len(removed), e.Name(), removed[0])
			}
			total += len(removed)
			if err := write(out, doc); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(os.Stderr, "crds: for Kubernetes 1.20, removed %d empty-string schema defaults in all\n", total)
	return nil
}

// dropEmptyDefaults removes `default: ""` from string schemas under node, noting each path.
func dropEmptyDefaults(node any, path string, removed *[]string) {
	switch n := node.(type) {
	case map[string]any:
		if d, ok := n["default"]; ok && d == "" && n["type"] == "string" {
			delete(n, "default")
			*removed = append(*removed, path)
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			dropEmptyDefaults(n[k], path+"."+k, removed)
		}
	case []any:
		for i, v := range n {
			dropEmptyDefaults(v, fmt.Sprintf("%s[%d]", path, i), removed)
		}
	}
}

// merge merges patch into doc: maps recursively, anything else replaced.
func merge(doc, patch map[string]any) {
	for k, v := range patch {
		pv, isMap := v.(map[string]any)
		dv, docIsMap := doc[k].(map[string]any)
		if isMap && docIsMap {
			merge(dv, pv)
		} else {
			doc[k] = v
		}
	}
}

func readTree(dir string) ([]map[string]any, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var docs []map[string]any
	for _, p := range paths {
		d, err := readDocs(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// readDocs reads the YAML documents of a file (controller-gen starts each file with `---`).
func readDocs(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var docs []map[string]any
	for _, part := range docSeparator.Split(string(data), -1) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func write(out string, doc map[string]any) error {
	spec, _ := doc["spec"].(map[string]any)
	names, _ := spec["names"].(map[string]any)
	group, _ := spec["group"].(string)
	plural, _ := names["plural"].(string)
	if group == "" || plural == "" {
		return errors.New("a CRD without spec.group or spec.names.plural")
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, group+"_"+plural+".yaml"), data, 0o644)
}
