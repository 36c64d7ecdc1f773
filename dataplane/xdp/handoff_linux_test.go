package xdp

import (
	"context"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// TestLabTwoQueuesHandOff runs both gateways with two queues and two
// workers. A single flow lands on one receive queue, while its SA (SPI
// 0x1001 or 0x2002, odd) and its tunnel (1) belong to worker 1, so traffic
// arriving on queue 0 must cross the hand-off rings; pings still pass and
// the rings count the crossings.
func TestLabTwoQueuesHandOff(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "ethtool")
	l := labtest.Up(t, twoSites)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, node := range []string{"s1", "s2"} {
		for _, dev := range []string{"wan", "lan"} {
			if out, err := l.Exec(ctx, node, "ethtool", "-L", dev, "rx", "2", "tx", "2"); err != nil {
				t.Fatalf("%s %s: ethtool -L: %v %s", node, dev, err, out)
			}
		}
	}
	s1, s2 := sites()
	s1.queues, s2.queues = 2, 2
	s1.startXDP(t, l, dataplane.ModeGRE, false, true)
	s2.startXDP(t, l, dataplane.ModeGRE, false, true)
	pingBoth(t, l, func() string { return s1.diag() + "\n" + s2.diag() })
	var handed, received uint64
	for _, g := range []*gateway{s1, s2} {
		st := g.xdp.Status()
		if len(st.Queues) != 2 {
			t.Fatalf("%s: %d queues", g.node, len(st.Queues))
		}
		for _, q := range st.Queues {
			handed += q.HandedOff
			received += q.HandoffRx
			if q.HandoffFull != 0 || q.NoFrame != 0 {
				t.Errorf("%s queue %d: hand-off drops %+v", g.node, q.Queue, q)
			}
		}
	}
	if handed == 0 || handed != received {
		t.Fatalf("handed off %d, received %d: want equal and non-zero\n%s\n%s", handed, received, s1.diag(), s2.diag())
	}
	t.Logf("%d packets crossed the hand-off rings", handed)
}
