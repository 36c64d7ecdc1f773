package control

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
)

const ctsTail = `cts role-based sgt-map vrf blue 198.19.0.0/24 sgt 77
cts role-based sgt-map 198.19.0.0/24 sgt 20
cts role-based sgt-map 198.19.1.0/24 sgt 10
cts role-based sgt-map 2001:db8:1::/48 sgt 10
ip access-list role-based PING
 permit icmp
 deny ip
cts role-based enforcement
cts role-based permissions from 10 to 20 PING
end
`

func withCTS(cfg string, sgt bool) string {
	extra := ctsTail
	if sgt {
		extra = "crypto ikev2 cts sgt\n" + extra
	}
	return strings.Replace(cfg, "end\n", extra, 1)
}

// TestCTSSGTNegotiation: tags are on only when both daemons send
// CISCO-CTS-SGT; the SA detail and the dataplane SAs say so; mappings and
// the matrix reach the dataplane; show commands and metrics render.
func TestCTSSGTNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hub, spoke bool
	}{{"both", true, true}, {"hub only", true, false}, {"spoke only", false, true}, {"neither", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			net := transport.NewMemNetwork(transport.MemOptions{})
			hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", withCTS(hubCfg, tc.hub)))
			spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", withCTS(spokeCfg, tc.spoke)))
			waitFor(t, "sessions on both sides", func() bool {
				return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1
			})
			want := tc.hub && tc.spoke
			for name, s := range map[string]*side{"hub": hub, "spoke": spoke} {
				if got := s.d.Sessions()[0].SGT; got != want {
					t.Errorf("%s session SGT %v, want %v", name, got, want)
				}
				for _, sa := range s.dp.SAs() {
					if sa.SGT != want {
						t.Errorf("%s dataplane SA %08x SGT %v, want %v", name, sa.SPI, sa.SGT, want)
					}
				}
				text := s.run(t, "show", "crypto", "ikev2", "sa", "detailed").Text
				line := "Cisco Trust Security SGT is disabled"
				if want {
					line = "Cisco Trust Security SGT is enabled"
				}
				if !strings.Contains(text, line) {
					t.Errorf("%s: show crypto ikev2 sa detailed lacks %q:\n%s", name, line, text)
				}
			}
			// The mappings and the matrix are in the hub's dataplane.
			res := hub.run(t, "show", "cts", "role-based", "sgt-map", "all")
			for _, w := range []string{"Active IPv4-SGT Bindings Information", "198.19.1.0/24                           10      CLI",
				"Active IPv6-SGT Bindings Information", "2001:db8:1::/48", "Total number of CLI      bindings = 2"} {
				if !strings.Contains(res.Text, w) {
					t.Errorf("sgt-map lacks %q:\n%s", w, res.Text)
				}
			}
			if strings.Contains(res.Text, "77") {
				t.Errorf("global sgt-map shows vrf blue's binding:\n%s", res.Text)
			}
			if v := hub.run(t, "show", "cts", "role-based", "sgt-map", "vrf", "blue", "all"); !strings.Contains(v.Text, "198.19.0.0/24                           77") {
				t.Errorf("vrf blue sgt-map:\n%s", v.Text)
			}
			if err := hub.dp.DeleteSGTMapping(hub.d.vrfID("blue"), netip.MustParsePrefix("198.19.0.0/24")); err != nil {
				t.Errorf("vrf blue's mapping did not reach the dataplane: %v", err)
			}
			res = hub.run(t, "show", "cts", "role-based", "counters")
			if !strings.Contains(res.Text, "From    To      SW-Denied") || !strings.Contains(res.Text, "10      20      0") || !strings.Contains(res.Text, "*       *") {
				t.Errorf("counters:\n%s", res.Text)
			}
			if f := hub.run(t, "show", "cts", "role-based", "counters", "from", "10", "to", "20"); strings.Count(f.Text, "\n") != 3 || !strings.Contains(f.Text, "10      20") {
				t.Errorf("filtered counters:\n%s", f.Text)
			}
			if f := hub.run(t, "show", "cts", "role-based", "counters", "from", "unknown"); strings.Count(f.Text, "\n") != 2 {
				t.Errorf("counters from unknown (none configured):\n%s", f.Text)
			}
			hub.run(t, "clear", "cts", "role-based", "counters")
			b, _ := json.Marshal(res.Data)
			if !strings.Contains(string(b), `"from":"10","to":"20"`) {
				t.Errorf("counters json: %s", b)
			}
			res = hub.run(t, "show", "cts", "role-based", "permissions")
			if !strings.Contains(res.Text, "IPv4 Role-based permissions from group 10 to group 20:\n\tPING\n\t\tpermit icmp\n\t\tdeny ip") {
				t.Errorf("permissions:\n%s", res.Text)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(hub.d.Metrics())
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, mf := range mfs {
				if mf.GetName() == "esphub_sgacl_packets_total" && len(mf.Metric) == 4 {
					found = true
				}
			}
			if !found {
				t.Error("esphub_sgacl_packets_total missing or not 2 cells x 2 actions")
			}
		})
	}
}

// TestCTSReload: mappings follow the configuration on reload and
// `no propagate sgt` keeps a tunnel untagged.
func TestCTSReload(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	spokeNoProp := strings.Replace(withCTS(spokeCfg, true), " tunnel protection ipsec profile hub\n", " tunnel protection ipsec profile hub\n cts manual\n  no propagate sgt\n  policy static sgt 40\n", 1)
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", withCTS(hubCfg, true)))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeNoProp))
	waitFor(t, "sessions", func() bool { return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1 })
	if !hub.d.Sessions()[0].SGT || spoke.d.Sessions()[0].SGT {
		t.Errorf("SGT hub %v spoke %v, want true/false (spoke: no propagate sgt)", hub.d.Sessions()[0].SGT, spoke.d.Sessions()[0].SGT)
	}
	if tu := spoke.dp.Tunnels(); len(tu) != 1 || tu[0].Config.SGT != 40 || tu[0].Config.TrustSGT {
		t.Errorf("policy static sgt 40 not on the spoke's tunnel: %+v", tu)
	}
	if !strings.Contains(spoke.run(t, "show", "crypto", "ikev2", "sa", "detailed").Text, "SGT is enabled") {
		t.Error("the spoke's IKE SA negotiated SGT and should say so")
	}
	// Mapping changes reach the dataplane: an SGACL denial needs both tags.
	cfg2 := strings.Replace(withCTS(hubCfg, true), "cts role-based sgt-map 198.19.1.0/24 sgt 10\n", "cts role-based sgt-map 198.19.1.0/25 sgt 30\n", 1)
	hub.d.Reload(parse(t, "hub.cfg", cfg2))
	res := hub.run(t, "show", "cts", "role-based", "sgt-map", "ipv4")
	if strings.Contains(res.Text, "198.19.1.0/24") || !strings.Contains(res.Text, "198.19.1.0/25") {
		t.Errorf("after reload:\n%s", res.Text)
	}
	if err := hub.dp.DeleteSGTMapping(0, netip.MustParsePrefix("198.19.1.0/24")); err == nil {
		t.Error("the old mapping is still in the dataplane")
	}
	if err := hub.dp.DeleteSGTMapping(0, netip.MustParsePrefix("198.19.1.0/25")); err != nil {
		t.Errorf("the new mapping is not in the dataplane: %v", err)
	}
}

func TestWriteESPKeys(t *testing.T) {
	var b bytes.Buffer
	c := &ike.ChildSA{InboundSPI: 0xc0ffee01, OutboundSPI: 0x0badcafe,
		Local: netip.MustParseAddrPort("198.18.0.2:500"), Remote: netip.MustParseAddrPort("198.18.1.2:4500"),
		InboundKeys: ike.ChildKeys{Encr: []byte{1, 2}}, OutboundKeys: ike.ChildKeys{Encr: []byte{3, 4}}}
	writeESPKeys(&b, c, esp.AESGCM16)
	want := `"IPv4","198.18.1.2","198.18.0.2","0xc0ffee01","AES-GCM with 16 octet ICV [RFC4106]","0x0102","NULL",""
"IPv4","198.18.0.2","198.18.1.2","0x0badcafe","AES-GCM with 16 octet ICV [RFC4106]","0x0304","NULL",""
`
	if b.String() != want {
		t.Errorf("got\n%swant\n%s", b.String(), want)
	}
}

// TestSGACLPolicyFromConfig checks the translation of the configured matrix
// for the dataplane: entry order, families, ports, default and layout.
func TestSGACLPolicyFromConfig(t *testing.T) {
	cfg := parse(t, "cts.cfg", `crypto ikev2 cts sgt cmd-layout ip-protocol
ip access-list role-based A
 permit tcp src gt 1023 dst range 80 90
 deny udp src neq 53
 deny ip
ipv6 access-list role-based A
 permit icmp
ipv6 access-list role-based B
 deny ipv6
cts role-based enforcement
cts role-based permissions from 10 to 20 ipv6 A B
cts role-based permissions from 10 to 20 A
cts role-based permissions default MISSING
end
`)
	if l := cmdLayout(cfg); !l.NextIsIPProto || l.NextFirst {
		t.Errorf("layout %+v", l)
	}
	p := sgaclPolicy(cfg)
	if !p.Enforce || len(p.Cells) != 2 || len(p.Default) != 0 {
		t.Fatalf("policy %+v", p)
	}
	// IPv4 lines first, then IPv6, whatever the configuration order.
	v4, v6 := p.Cells[0], p.Cells[1]
	if v4.From != 10 || v4.To != 20 || len(v4.ACEs) != 3 || len(v6.ACEs) != 2 {
		t.Fatalf("cells %+v", p.Cells)
	}
	want := []dataplane.SGACE{
		{Action: dataplane.SGACLPermit, Family: 4, Proto: 6, Src: dataplane.PortRange{Lo: 1024, Hi: 65535}, Dst: dataplane.PortRange{Lo: 80, Hi: 90}},
		{Action: dataplane.SGACLDeny, Family: 4, Proto: 17, Src: dataplane.PortRange{Lo: 53, Hi: 53, Not: true}},
		{Action: dataplane.SGACLDeny, Family: 4, AnyProto: true},
	}
	for i, w := range want {
		if v4.ACEs[i] != w {
			t.Errorf("v4 entry %d: %+v, want %+v", i, v4.ACEs[i], w)
		}
	}
	if v6.ACEs[0] != (dataplane.SGACE{Action: dataplane.SGACLPermit, Family: 6, Proto: 58}) || !v6.ACEs[1].AnyProto || v6.ACEs[1].Family != 6 {
		t.Errorf("v6 entries %+v", v6.ACEs)
	}
	// The dataplane accepts it.
	if err := dataplane.NewEngine(dataplane.Options{}).SetSGACL(p); err != nil {
		t.Error(err)
	}
}
