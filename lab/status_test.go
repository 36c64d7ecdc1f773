package lab

import (
	"net/netip"
	"strings"
	"testing"
)

func TestStatusText(t *testing.T) {
	st := &Status{Prefix: "x1", File: "t.yaml", Description: "two nodes", Nodes: []NodeStatus{
		{Name: "a", Netns: "x1-a", Up: true,
			Ifaces: []IfaceStatus{
				{Name: "lo", State: "up"},
				{Name: "b", State: "up", Peer: "b:eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")}, Impairment: "tbf rate 10Mbit loss 5%"},
			},
			Routes: []string{"default via 198.18.0.2 dev b"},
			Nft:    []string{`oifname "b" counter packets 3 bytes 252 masquerade comment "nat b"`},
			NAT: []NATMapping{
				{Proto: "icmp", Inside: netip.MustParseAddrPort("198.19.0.1:0"), Outside: netip.MustParseAddrPort("198.18.0.1:0"), Remote: netip.MustParseAddrPort("198.18.0.2:0")},
				{Proto: "icmp", Inside: netip.MustParseAddrPort("198.19.0.1:0"), Outside: netip.MustParseAddrPort("198.18.0.1:0"), Remote: netip.MustParseAddrPort("198.18.0.2:0")},
				{Proto: "udp", Inside: netip.MustParseAddrPort("198.19.0.1:500"), Outside: netip.MustParseAddrPort("198.18.0.1:1024"), Remote: netip.MustParseAddrPort("198.18.0.2:500")},
			},
		},
		{Name: "b", Netns: "x1-b"},
	}}
	if st.Up() {
		t.Error("Up() with a missing node")
	}
	var b strings.Builder
	if err := st.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"lab x1 (t.yaml): PARTIAL",
		"1 of 2 nodes",
		"b:eth0",
		"198.18.0.1/24",
		"tbf rate 10Mbit loss 5%",
		"missing",
		"route default via 198.18.0.2 dev b",
		"nat   icmp 198.19.0.1 -> 198.18.0.2 as 198.18.0.1 (2 flows)",
		"nat   udp 198.19.0.1:500 -> 198.18.0.2:500 as 198.18.0.1:1024",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "  lo ") {
		t.Errorf("lo without addresses is listed:\n%s", out)
	}
	b.Reset()
	down := &Status{Prefix: "x1", File: "t.yaml", Nodes: []NodeStatus{{Name: "a"}}}
	if err := down.WriteText(&b); err != nil || !strings.Contains(b.String(), "down, 0 of 1 nodes") {
		t.Errorf("down lab: %v\n%s", err, b.String())
	}
}

func TestFormatRate(t *testing.T) {
	for in, want := range map[uint64]string{1e9: "1Gbit", 10e6: "10Mbit", 1.5e6: "1.5Mbit", 500e3: "500Kbit", 800: "800bit"} {
		if got := FormatRate(in); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", in, got, want)
		}
	}
}
