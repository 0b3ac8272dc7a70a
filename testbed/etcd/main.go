// Command etcd is upstream etcd's server built from the Go module proxy (etcd-io/etcd server/main.go
// does the same): the test bed's storage backend, see scripts/install-testbed.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
