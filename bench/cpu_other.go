//go:build !linux

package bench

import "time"

// ThreadCPU returns 0 where per-thread CPU time is not available: CPU per
// packet is then reported as unmeasured.
func ThreadCPU() time.Duration { return 0 }
