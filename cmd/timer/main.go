// Command timer runs alf's timer role against an external NATS (NATS_URL).
// Configuration is by environment variables; see the README.
package main

import (
	"os"

	"github.com/latency-fabric/alf/internal/node"
)

func main() {
	os.Exit(node.Main("timer", node.Roles{Timer: true}))
}
