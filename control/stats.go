package control

import (
	"sync"
	"sync/atomic"
)

// stats counts control-plane events the IKE engine's counters do not
// cover: failures by the notify type (or local reason) that ended them.
type stats struct {
	ikeUp    atomic.Uint64
	mu       sync.Mutex
	failures map[string]uint64
}

func newStats() *stats { return &stats{failures: map[string]uint64{}} }

func (s *stats) failure(notify string) {
	s.mu.Lock()
	s.failures[notify]++
	s.mu.Unlock()
}

// Failures returns the IKE failure counts by notify type.
func (d *Daemon) Failures() map[string]uint64 {
	d.stats.mu.Lock()
	defer d.stats.mu.Unlock()
	out := make(map[string]uint64, len(d.stats.failures))
	for k, v := range d.stats.failures {
		out[k] = v
	}
	return out
}
