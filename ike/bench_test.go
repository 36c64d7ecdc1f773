package ike

import (
	"context"
	"testing"

	"github.com/esphub/esphub/ike/suite"
)

// BenchmarkHandshake measures a complete IKE_SA_INIT + IKE_AUTH with PSK and
// the first Child SA between two engines on a perfect in-memory network.
// Both engines run in this process, so one op is the work of initiator and
// responder together; run with -cpu 1 for the per-core figure. After each
// handshake both SAs are removed locally (no Delete exchange) so state does
// not grow. cpu-us/op is the process's CPU time per handshake (both
// engines plus the in-memory network), the figure that holds on a loaded
// machine; handshakes/cpu-s is its inverse.
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		name string
		ike  suite.Proposal
		esp  suite.Proposal
	}{
		{"ecp256-aes256gcm16", propGCM, espGCM},
		{"modp2048-aes128-sha256", propCBC, espCBC},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newPair(b, pairOpts{ikeProps: []suite.Proposal{bc.ike}, respProps: []suite.Proposal{bc.ike}})
			p.prof.Child.Proposals = []suite.Proposal{bc.esp}
			ctx := context.Background()
			reset := func(pe *peer) {
				_ = pe.e.call(ctx, func() {
					for _, sa := range pe.e.sas {
						sa.destroy(nil)
					}
					clear(pe.e.tombstones)
				})
				// The test peers record every event; the benchmark keeps
				// none, or it measures the growth of that slice.
				pe.mu.Lock()
				pe.events = pe.events[:0]
				pe.mu.Unlock()
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := p.initiate(ctx); err != nil {
					b.Fatal(err)
				}
				reset(p.a)
				reset(p.b)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			// CPU time of both engines per handshake: on a loaded machine
			// the per-core rate is 1/cpu-s/op, whatever the wall clock says.
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()*1e6/float64(b.N), "cpu-us/op")
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "handshakes/cpu-s")
			}
		})
	}
}
