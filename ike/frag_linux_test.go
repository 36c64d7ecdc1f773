package ike

import (
	"strings"
	"testing"
)

// TestInteropFragmentation: with fragmentation on both sides and a
// 300-byte fragment size on both, IKE_AUTH (and later exchanges) travel as
// SKF fragments in both directions, whoever initiates.
func TestInteropFragmentation(t *testing.T) {
	for _, weInitiate := range []bool{true, false} {
		name := "strongswan-initiates"
		if weInitiate {
			name = "we-initiate"
		}
		t.Run(name, func(t *testing.T) {
			sc := interopSuites[0]
			ie := newInterop(t, swanOpts{
				ike: sc.swanIKE, esp: sc.swanESP,
				connExtra: map[string]string{"fragmentation": "yes"},
				charon:    map[string]string{"fragment_size": "160"},
				configure: func(c *Config) { c.Fragmentation, c.FragmentMTU = true, 160 },
			}, sc.ike, sc.esp)
			ctx := testCtx(t)
			if weInitiate {
				ie.initiate(ctx)
			} else if err := ie.sw.Initiate(ctx, "ours", "net"); err != nil {
				t.Fatalf("strongSwan initiate: %v\n%s", err, ie.sw.LogTail(40))
			}
			ie.check(1)
			spi := ikeSAs(t, ie.us)[0].LocalSPI
			// A later exchange both ways after fragmentation is on.
			if err := ie.us.e.CheckLiveness(ctx, spi); err != nil {
				t.Fatalf("liveness: %v", err)
			}
			s := ie.us.e.Stats()
			if s.Get(CounterFragmentsSent) == 0 || s.Get(CounterFragmentsReceived) == 0 {
				t.Fatalf("IKE_AUTH was not fragmented both ways: %v", s.Map())
			}
			log, err := ie.sw.Log()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(log), "EF(") {
				t.Fatalf("strongSwan logged no encrypted fragments (EF)")
			}
			t.Logf("fragments: we sent %d, received %d", s.Get(CounterFragmentsSent), s.Get(CounterFragmentsReceived))
		})
	}
}
