package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
)

// TestXDPCases runs the scenario-3 topologies that the quick smoke test
// does not single out, briefly, and checks what the report relies on:
// packets reach the sink intact, the decrypting DUT checks replay and
// drops nothing (so the generator never repeats a sequence number), and
// with two AF_XDP workers both workers carry traffic without hand-offs.
// ESPHUB_BENCH_ALL_CASES=1 runs every case (about a minute).
func TestXDPCases(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	cases := []xdpCase{
		{kind: kindDecrypt, workers: 2},
		{kind: kindHairpin, workers: 2},
		{kind: kindHairpin, portable: true, workers: 2},
		{kind: kindDecrypt, portable: true, workers: 2},
	}
	if os.Getenv("ESPHUB_BENCH_ALL_CASES") != "" {
		cases = []xdpCase{
			{kind: kindForward, workers: 1},
			{kind: kindEncrypt, workers: 1},
			{kind: kindDecrypt, workers: 1},
			{kind: kindHairpin, workers: 1},
			{kind: kindEncrypt, workers: 2},
			{kind: kindDecrypt, workers: 2},
			{kind: kindEncrypt, portable: true, workers: 1},
			{kind: kindDecrypt, portable: true, workers: 1},
			{kind: kindHairpin, portable: true, workers: 1},
			{kind: kindEncrypt, portable: true, workers: 2},
			{kind: kindDecrypt, portable: true, workers: 2},
			{kind: kindHairpin, workers: 2},
			{kind: kindHairpin, portable: true, workers: 2},
		}
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.path(), " ", "_")+"/"+string(rune('0'+c.workers)), func(t *testing.T) {
			tp, err := newXDPTopo(c)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Close()
			if err := tp.setSize("512"); err != nil {
				t.Fatal(err)
			}
			tp.warmUp()
			s := tp.measure(300 * time.Millisecond)
			t.Logf("%s workers %d: sent %d, sink %d, %.0f pps, CPU %v", c.path(), c.workers, s.Offered, s.Packets, s.PPS(), s.CPU)
			if s.Packets == 0 {
				t.Fatalf("nothing reached the sink (offered %d)", s.Offered)
			}
			if bad := tp.sinkBad.Load(); bad > 0 {
				t.Errorf("sink saw %d damaged frames", bad)
			}
			if tp.genBad > 0 {
				t.Errorf("generator failed to seal %d packets", tp.genBad)
			}
			if tp.engine == nil {
				return
			}
			if d := nonZero(tp.engine.Drops()); len(d) > 0 {
				t.Errorf("DUT engine drops %v", d)
			}
			if c.seals() {
				var replay bool
				for _, sa := range tp.engine.SAs() {
					if sa.Direction == dataplane.Inbound && sa.ReplayWindowSize > 0 && sa.Packets > 0 {
						replay = true
					}
				}
				if !replay {
					t.Errorf("no inbound SA with anti-replay on")
				}
			}
			if tp.xb != nil && c.workers > 1 {
				for _, q := range tp.xb.Status().Queues {
					if q.RxWAN+q.RxLAN == 0 || q.HandedOff > 0 {
						t.Errorf("queue %d: rx wan %d lan %d, handed off %d", q.Queue, q.RxWAN, q.RxLAN, q.HandedOff)
					}
				}
			}
		})
	}
}
