// The policy-report CRDs the PolicyReport tests install (scripts/report-crds.sh reads their
// YAML from these modules; nothing of them is committed):
//   sigs.k8s.io/wg-policy-prototypes: the pseudo-version below is the one the Go module proxy
//     serves (it refuses later ones, e.g. v0.0.0-20211213184226-468085642d55); its
//     policy-report/crd/v1alpha2 holds the controller-gen output of the v1alpha2 types that
//     Kyverno and Policy Reporter read.
//   github.com/openreports/reports-api: v0.2.1, config/crd (openreports.io/v1alpha1).
module harvester-hygiene/testbed/report-crds

go 1.24.2

require (
	github.com/openreports/reports-api v0.2.1
	sigs.k8s.io/wg-policy-prototypes v0.0.0-20210911211205-fb8f67bb6d38
)
