// Command fleet-values renders the Helm values Fleet would give the bundle of a fleet.yaml on one
// cluster, so that tests can render the chart with exactly those values:
//
//	fleet-values FLEET_YAML CLUSTER_NAME [LABEL=VALUE...]
//
// It prints {"doNotDeploy": bool, "targetCustomization": name, "values": {...}} as JSON. The steps
// are Fleet's, as in rancher/fleet internal/cmd/controller/target/builder.go (preprocessHelmValues,
// processLabelValues, processTemplateValues) and internal/cmd/controller/options/calculate.go
// (Merge): a matching targetCustomization with doNotDeploy drops the cluster; the first matching
// one's helm.values are merged over the bundle's; "global.fleet.clusterLabels.<label>" strings
// become the label's value; then the values, marshalled to YAML, are one Go template with the
// delimiters ${ } (sprig's functions without env, expandenv, include and tpl; missingkey=error)
// whose output is parsed back as YAML. Only clusterSelector.matchLabels is supported (the
// fleet.yaml of this project uses nothing else; anything else is an error).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

const clusterLabelPrefix = "global.fleet.clusterLabels."

type selector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []any             `json:"matchExpressions"`
}

type helmOptions struct {
	Values map[string]any `json:"values"`
}

type customization struct {
	Name            string    `json:"name"`
	ClusterSelector *selector `json:"clusterSelector"`
	ClusterName     string    `json:"clusterName"`
	DoNotDeploy     bool      `json:"doNotDeploy"`
	Helm            *helmOptions
}

type fleetYAML struct {
	Helm                 *helmOptions    `json:"helm"`
	TargetCustomizations []customization `json:"targetCustomizations"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleet-values:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: fleet-values FLEET_YAML CLUSTER_NAME [LABEL=VALUE...]")
	}
	text, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var f fleetYAML
	if err := yaml.Unmarshal(text, &f); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	clusterName := args[1]
	labels := map[string]string{}
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want LABEL=VALUE", kv)
		}
		labels[k] = v
	}

	var first *customization
	doNotDeploy := false
	for i := range f.TargetCustomizations {
		c := &f.TargetCustomizations[i]
		hit, err := matches(c, clusterName, labels)
		if err != nil {
			return err
		}
		if !hit {
			continue
		}
		if c.DoNotDeploy {
			doNotDeploy = true
		}
		if first == nil {
			first = c
		}
	}
	out := map[string]any{"doNotDeploy": doNotDeploy, "targetCustomization": ""}
	if first != nil {
		out["targetCustomization"] = first.Name
	}
	values := map[string]any{}
	if f.Helm != nil && f.Helm.Values != nil {
		values = f.Helm.Values
	}
	if first != nil && first.Helm != nil && first.Helm.Values != nil {
		values = mergeMaps(values, first.Helm.Values)
	}
	if len(labels) > 0 && len(values) > 0 {
		labelValues(values, labels)
		ctx := map[string]any{
			"ClusterNamespace":   "fleet-default",
			"ClusterName":        clusterName,
			"ClusterLabels":      toDict(labels),
			"ClusterAnnotations": map[string]any{},
			"ClusterValues":      map[string]any{},
		}
		values, err = templateValues(values, ctx)
		if err != nil {
			return err
		}
	}
	out["values"] = values
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func matches(c *customization, clusterName string, labels map[string]string) (bool, error) {
	if c.ClusterName != "" && c.ClusterName != clusterName {
		return false, nil
	}
	if c.ClusterSelector == nil {
		return c.ClusterName != "", nil
	}
	if len(c.ClusterSelector.MatchExpressions) > 0 {
		return false, fmt.Errorf("targetCustomization %s: matchExpressions are not supported here", c.Name)
	}
	for k, v := range c.ClusterSelector.MatchLabels {
		if labels[k] != v {
			return false, nil
		}
	}
	return true, nil
}

// mergeMaps is wrangler's data.MergeMaps: maps merge key by key, anything else is replaced.
func mergeMaps(base, overlay map[string]any) map[string]any {
	result := map[string]any{}
	for k, v := range base {
		result[k] = v
	}
	for k, v := range overlay {
		if bm, ok := result[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				result[k] = mergeMaps(bm, om)
				continue
			}
		}
		result[k] = v
	}
	return result
}

func labelValues(values map[string]any, labels map[string]string) {
	for k, v := range values {
		if s, ok := v.(string); ok && strings.HasPrefix(s, clusterLabelPrefix) {
			values[k] = labels[strings.TrimPrefix(s, clusterLabelPrefix)]
		}
		switch t := v.(type) {
		case map[string]any:
			labelValues(t, labels)
		case []any:
			for _, item := range t {
				if m, ok := item.(map[string]any); ok {
					labelValues(m, labels)
				}
			}
		}
	}
}

func toDict(labels map[string]string) map[string]any {
	d := make(map[string]any, len(labels))
	for k, v := range labels {
		d[k] = v
	}
	return d
}

func templateValues(values map[string]any, ctx map[string]any) (map[string]any, error) {
	data, err := yaml.Marshal(values)
	if err != nil {
		return nil, err
	}
	funcs := sprig.TxtFuncMap()
	for _, name := range []string{"env", "expandenv", "include", "tpl"} {
		delete(funcs, name)
	}
	tmpl, err := template.New("values").Funcs(funcs).Option("missingkey=error").Delims("${", "}").Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("failed to parse helm values template: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, ctx); err != nil {
		return nil, fmt.Errorf("failed to render helm values template: %w", err)
	}
	var rendered map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &rendered); err != nil {
		return nil, fmt.Errorf("failed to interpret rendered template as helm values: %s: %w", b.String(), err)
	}
	return rendered, nil
}
