// Command publisher runs alf's publisher role against an external NATS (NATS_URL).
// Configuration is by environment variables; see the README.
package main

import (
	"os"

	"github.com/latency-fabric/alf/internal/node"
)

func main() {
	os.Exit(node.Main("publisher", node.Roles{Publisher: true}))
}
