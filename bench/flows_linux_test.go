package bench

import (
	"net/netip"
	"testing"

	"github.com/esphub/esphub/config"
)

// TestFlowsOnOwnerQueues checks that the generator sends every flow on the
// queue of the AF_XDP worker that owns its SA (inbound SPI mod workers,
// tunnel ID mod workers), that the flows' inner prefixes do not overlap and
// that each flow's destination is inside its prefix.
func TestFlowsOnOwnerQueues(t *testing.T) {
	for _, c := range []xdpCase{
		{kind: kindEncrypt, workers: 1}, {kind: kindEncrypt, workers: 2}, {kind: kindDecrypt, workers: 2},
		{kind: kindDecrypt, portable: true, workers: 2}, {kind: kindHairpin, workers: 1},
		{kind: kindHairpin, workers: 2}, {kind: kindHairpin, portable: true, workers: 2},
	} {
		fs := flowsFor(c, 101)
		want := max(c.workers, 1)
		if len(fs) != want {
			t.Errorf("%s w%d: %d flows, want %d", c.path(), c.workers, len(fs), want)
		}
		for i, f := range fs {
			n := c.queues()
			if f.queue >= n {
				t.Errorf("%s w%d flow %d: queue %d of %d", c.path(), c.workers, i, f.queue, n)
			}
			if !c.portable && (int(f.spi)%n != f.queue || int(f.tunnel)%n != f.queue) {
				t.Errorf("%s w%d flow %d: queue %d but spi %#x and tunnel %d belong to worker %d and %d",
					c.path(), c.workers, i, f.queue, f.spi, f.tunnel, int(f.spi)%n, int(f.tunnel)%n)
			}
			if !f.prefix.Contains(f.dst) || !lanB.Contains(f.dst) {
				t.Errorf("flow %d: destination %v outside %v or %v", i, f.dst, f.prefix, lanB)
			}
			if o := f.hairpinOut(len(fs)); c.kind == kindHairpin && !c.portable &&
				(int(o.spi)%n != f.queue || int(o.tunnel)%n != f.queue || o.spi>>8 != xdpSPIBase>>8) {
				t.Errorf("%s w%d flow %d: outbound spi %#x and tunnel %d not on worker %d (or outside the sink's SPIs)", c.path(), c.workers, i, o.spi, o.tunnel, f.queue)
			}
			for j, g := range fs[:i] {
				if f.prefix.Overlaps(g.prefix) || f.spi == g.spi || f.tunnel == g.tunnel {
					t.Errorf("flows %d and %d share a prefix, SPI or tunnel: %+v %+v", j, i, g, f)
				}
			}
		}
	}
}

// TestHubConfigParses keeps scenario 6's hub configuration valid as the
// configuration language evolves.
func TestHubConfigParses(t *testing.T) {
	for name := range hubIKE {
		cfg, diags := config.Parse("benchhub.cfg", []byte(hubConfig(name, netip.MustParseAddr("198.18.120.2"))))
		if cfg == nil {
			t.Fatalf("%s: %v", name, diags)
		}
		for _, d := range diags {
			t.Errorf("%s: %v", name, d)
		}
	}
}
