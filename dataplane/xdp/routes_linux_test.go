package xdp

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// Route changes made one at a time or in batches (control resynchronising
// its RIB) leave the steering programs' protected prefixes equal to the
// tunnel routes.
func TestProtectedFollowsRoutes(t *testing.T) {
	testenv.NeedRoot(t)
	l := labtest.Up(t, twoSites)
	var b *Backend
	must(t, l.Do("s1", func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}}})
		return err
	}))
	defer b.Close()
	must(t, b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: netip.MustParseAddr("198.18.0.1"), Remote: netip.MustParseAddr("198.18.1.2")}))
	tun := dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}
	host := dataplane.NextHop{Kind: dataplane.NextHopHost}
	p := netip.MustParsePrefix
	protected := func() []string {
		pp, err := b.steer.ProtectedPrefixes()
		must(t, err)
		var out []string
		for _, x := range pp {
			out = append(out, x.Prefix.String())
		}
		slices.Sort(out)
		return out
	}
	must(t, b.AddRoute(0, p("198.19.2.0/24"), tun))
	must(t, b.AddRoutes(0, []dataplane.Route{
		{Prefix: p("198.19.3.0/24"), NextHop: tun},
		{Prefix: p("2001:db8:1:2::/64"), NextHop: tun},
		{Prefix: p("198.19.1.0/24"), NextHop: host},
	}))
	if got, want := protected(), []string{"198.19.2.0/24", "198.19.3.0/24", "2001:db8:1:2::/64"}; !slices.Equal(got, want) {
		t.Errorf("after adds: protected %v, want %v", got, want)
	}
	must(t, b.AddRoutes(0, []dataplane.Route{{Prefix: p("198.19.3.0/24"), Delete: true}, {Prefix: p("198.19.2.0/24"), NextHop: host}}))
	must(t, b.DeleteRoute(0, p("2001:db8:1:2::/64")))
	if got := protected(); len(got) != 0 {
		t.Errorf("after deletes: protected %v, want none", got)
	}
}
