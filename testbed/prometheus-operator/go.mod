// Wrapper module: pins github.com/prometheus-operator/prometheus-operator, whose module holds the
// CustomResourceDefinitions upstream publishes (example/prometheus-operator-crd/*.yaml, generated
// by its controller-gen run). scripts/chart-tools.sh copies the ServiceMonitor and PrometheusRule
// CRDs from the module cache (go.sum verifies the download) for the chart's monitoring test.
// Nothing is built from it. v0.85.0: the module proxy refuses v0.86.0.
module harvester-hygiene/testbed/prometheus-operator

go 1.24.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
