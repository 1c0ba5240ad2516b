// Command gateway runs alf's gateway role against an external NATS (NATS_URL).
// Configuration is by environment variables; see the README.
package main

import (
	"os"

	"github.com/latency-fabric/alf/internal/node"
)

func main() {
	os.Exit(node.Main("gateway", node.Roles{Gateway: true}))
}
