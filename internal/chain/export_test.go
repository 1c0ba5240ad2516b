package chain

import (
	"time"

	"github.com/latency-fabric/alf/internal/projection"
)

// BeforeCreate makes c call f between deciding to create an occurrence's
// draft and appending it.
func BeforeCreate(c *Chainer, f func(draftID string)) { c.beforeCreate = f }

// FirstKey is the record key slot tries first for an occurrence of a
// schedule, exported for the tests.
func FirstKey(scheduleID string, at time.Time) string {
	c := New(Config{View: projection.NewView()})
	uri, _, _ := c.slot(projection.Schedule{ID: scheduleID, DID: "did:plc:x", Collection: "c.c.c"}, at)
	return uri
}
