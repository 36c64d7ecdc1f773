package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small valid spec; the bad cases below each break one thing.
const twoNodes = `prefix: x1
nodes:
  a:
    lo: [198.19.255.1/32]
    routes:
      - {to: default, via: 198.18.0.2}
  b:
    forward: false
links:
  - a: {node: a, addr: [198.18.0.1/24, 2001:db8::1/64]}
    b: {node: b, iface: eth0, addr: [198.18.0.2/24, 2001:db8::2/64]}
    loss: 10
    rate: 5mbit
`

func TestParseValid(t *testing.T) {
	s, err := Parse("two.yaml", []byte(twoNodes))
	if err != nil {
		t.Fatal(err)
	}
	if s.Prefix != "x1" || len(s.Nodes) != 2 || len(s.Links) != 1 {
		t.Fatalf("spec: %+v", s)
	}
	a := s.Node("a")
	if !a.Forward || s.Node("b").Forward {
		t.Errorf("forward: a=%v b=%v", a.Forward, s.Node("b").Forward)
	}
	// The end without iface is named after its peer.
	if got := s.Links[0].A.Iface; got != "b" {
		t.Errorf("default iface name = %q, want b", got)
	}
	if got := s.Addrs("b", "eth0"); len(got) != 2 || got[1] != netip.MustParsePrefix("2001:db8::2/64") {
		t.Errorf("Addrs(b, eth0) = %v", got)
	}
	if got := s.Addrs("a", "lo"); len(got) != 1 {
		t.Errorf("Addrs(a, lo) = %v", got)
	}
	if r := a.Routes[0]; r.To != netip.MustParsePrefix("0.0.0.0/0") || r.Via != netip.MustParseAddr("198.18.0.2") {
		t.Errorf("default route = %+v", r)
	}
	for _, ep := range []*Endpoint{s.Links[0].A, s.Links[0].B} {
		if ep.Impair.LossPercent != 10 || ep.Impair.RateBits != 5e6 {
			t.Errorf("%s impairment = %+v, want the link's on both ends", ep.Iface, ep.Impair)
		}
	}
}

func TestParseShippedTopologies(t *testing.T) {
	files, _ := filepath.Glob("topologies/*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d shipped topologies", len(files))
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if s.Prefix == "" {
			t.Errorf("%s: no prefix", f)
		}
		for _, n := range s.Nodes {
			if len(n.Ifaces) == 0 {
				t.Errorf("%s: node %s has no links", f, n.Name)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	// Each case replaces old with new in twoNodes (or uses spec as is) and
	// expects a diagnostic "bad.yaml:LINE: ..." containing want.
	tests := []struct {
		name     string
		old, new string
		spec     string
		line     int
		want     string
	}{
		{name: "unknown top key", old: "prefix: x1", new: "prefx: x1", line: 1, want: `unknown key "prefx"`},
		{name: "unknown node key", old: "    forward: false", new: "    forwad: false", line: 8, want: `unknown key "forwad"`},
		{name: "unknown link key", old: "    loss: 10", new: "    los: 10", line: 12, want: `unknown key "los"`},
		{name: "unknown endpoint key", old: "node: a, addr", new: "node: a, adr", line: 10, want: `unknown key "adr"`},
		{name: "duplicate key", old: "    forward: false", new: "    forward: false\n    forward: true", line: 9, want: `duplicate key "forward"`},
		{name: "duplicate node", old: "  b:\n", new: "  a:\n", line: 7, want: `duplicate node "a"`},
		{name: "link to missing node", old: "{node: b, iface", new: "{node: c, iface", line: 11, want: `node "c" does not exist`},
		{name: "link to itself", old: "{node: b, iface", new: "{node: a, iface", line: 10, want: "both ends are on node"},
		{name: "duplicate address", old: "198.18.0.2/24, 2001:db8::2/64", new: "198.18.0.1/24, 2001:db8::2/64", line: 11, want: "duplicate address 198.18.0.1"},
		{name: "loopback duplicates link", old: "198.19.255.1/32", new: "198.18.0.2/32", line: 11, want: "duplicate address 198.18.0.2"},
		{name: "overlapping subnets", spec: `nodes: {a: {}, b: {}, c: {}}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}
  - {a: {node: a, addr: 198.18.0.129/25}, b: {node: c, addr: 198.18.0.130/25}}
`, line: 4, want: "overlaps 198.18.0.1/24"},
		{name: "loopback overlaps link", old: "198.19.255.1/32", new: "198.18.0.9/32", line: 11, want: "overlaps"},
		{name: "outside lab range", old: "198.18.0.1/24, 2001", new: "10.0.0.1/24, 2001", line: 10, want: "outside the lab ranges"},
		{name: "ipv6 outside lab range", old: "2001:db8::1/64", new: "2001:db9::1/64", line: 10, want: "outside the lab ranges"},
		{name: "prefix too wide", old: "198.19.255.1/32", new: "198.19.255.1/8", line: 4, want: "reaches outside"},
		{name: "bad prefix length", old: "198.18.0.1/24", new: "198.18.0.1/33", line: 10, want: "bad prefix"},
		{name: "missing prefix length", old: "198.18.0.1/24", new: "198.18.0.1", line: 10, want: "needs a prefix length"},
		{name: "network address", old: "198.18.0.1/24", new: "198.18.0.0/24", line: 10, want: "network address"},
		{name: "broadcast address", old: "198.18.0.1/24", new: "198.18.0.255/24", line: 10, want: "broadcast address"},
		{name: "interface name too long", old: "iface: eth0", new: "iface: averyveryverylongname", line: 11, want: "too long"},
		{name: "interface lo", old: "iface: eth0", new: "iface: lo", line: 11, want: "reserved"},
		{name: "duplicate interface", spec: `nodes: {a: {}, b: {}}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}
  - {a: {node: a, addr: 198.18.1.1/24}, b: {node: b, addr: 198.18.1.2/24}}
`, line: 4, want: `already has an interface "b"`},
		{name: "bad node name", old: "  b:\n", new: "  B_x:\n", line: 7, want: "node name"},
		{name: "bad lab prefix", old: "prefix: x1", new: "prefix: x-1", line: 1, want: "lab prefix"},
		{name: "route gateway off link", old: "via: 198.18.0.2}", new: "via: 198.18.9.2}", line: 6, want: "not on any of its links"},
		{name: "route to outside", old: "{to: default,", new: "{to: 10.0.0.0/8,", line: 6, want: "outside the lab ranges"},
		{name: "route host bits", old: "{to: default,", new: "{to: 198.19.0.1/16,", line: 6, want: "did you mean 198.19.0.0/16"},
		{name: "route mixed family", old: "{to: default,", new: "{to: 2001:db8:1::/48,", line: 6, want: "mixes IPv4 and IPv6"},
		{name: "route unknown dev", old: "via: 198.18.0.2}", new: "via: 198.18.0.2, dev: nope}", line: 6, want: `dev "nope" does not exist`},
		{name: "route via self", old: "via: 198.18.0.2}", new: "via: 198.18.0.1}", line: 6, want: "own address"},
		{name: "route to connected subnet", old: "{to: default,", new: "{to: 198.18.0.0/24,", line: 6, want: "directly connected on b"},
		{name: "route without via or dev", old: "{to: default, via: 198.18.0.2}", new: "{to: 198.19.0.0/16}", line: 6, want: "needs via or dev"},
		{name: "default without via", old: "{to: default, via: 198.18.0.2}", new: "{to: default, dev: b}", line: 6, want: "needs a via address"},
		{name: "loss out of range", old: "loss: 10", new: "loss: 101", line: 12, want: "0 to 100"},
		{name: "rate without unit", old: "rate: 5mbit", new: "rate: 5000", line: 13, want: "needs a unit"},
		{name: "queues out of range", old: "    rate: 5mbit", new: "    queues: 100", line: 13, want: "queues must be"},
		{name: "bad neigh mode", old: "    rate: 5mbit", new: "    neigh: sticky", line: 13, want: "static or dynamic"},
		{name: "bad offload", old: "    rate: 5mbit", new: "    offload: maybe", line: 13, want: "offload must be on or off"},
		{name: "mtu too small for ipv6", old: "    rate: 5mbit", new: "    mtu: 1000", line: 10, want: "IPv6 minimum"},
		{name: "nat on missing iface", old: "    forward: false", new: "    nat: {masquerade: [wan]}", line: 8, want: `masquerade interface "wan" does not exist`},
		{name: "nat without forwarding", old: "    forward: false", new: "    forward: false\n    nat: {masquerade: [eth0]}", line: 9, want: "nat needs forwarding"},
		{name: "nat bad ports", old: "    forward: false", new: "    nat: {masquerade: [eth0], ports: any}", line: 8, want: "preserve or random"},
		{name: "nat forward bad proto", old: "    forward: false", new: "    nat: {masquerade: [eth0], forward: [{proto: icmp, port: 1, to: 198.18.0.9}]}", line: 8, want: "udp or tcp"},
		{name: "nat forward bad port", old: "    forward: false", new: "    nat: {masquerade: [eth0], forward: [{proto: udp, port: 70000, to: 198.18.0.9}]}", line: 8, want: "1 to 65535"},
		{name: "nat forward outside", old: "    forward: false", new: "    nat: {masquerade: [eth0], forward: [{proto: udp, port: 500, to: 10.0.0.1}]}", line: 8, want: "outside"},
		{name: "nat forward missing to", old: "    forward: false", new: "    nat: {masquerade: [eth0], forward: [{proto: udp, port: 500}]}", line: 8, want: `missing key "to"`},
		{name: "nat forward family", old: "    forward: false", new: "    nat: {masquerade: [eth0], family: ip6, forward: [{proto: udp, port: 500, to: 198.18.0.9}]}", line: 8, want: "does not match nat family"},
		{name: "sysctl outside net", old: "    forward: false", new: "    sysctl: {kernel.panic: 1}", line: 8, want: "only net.*"},
		{name: "yaml syntax", old: "  b:\n", new: "  b: [\n", line: 0, want: ""},
		{name: "nodes not a mapping", spec: "nodes: [a, b]\n", line: 1, want: "want a mapping"},
		{name: "missing nodes", spec: "links: []\n", line: 1, want: `missing key "nodes"`},
		{name: "link missing end", spec: "nodes: {a: {}}\nlinks:\n  - {a: {node: a}}\n", line: 3, want: `missing key "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec == "" {
				if !strings.Contains(twoNodes, tc.old) {
					t.Fatalf("test bug: %q not in base spec", tc.old)
				}
				spec = strings.Replace(twoNodes, tc.old, tc.new, 1)
			}
			_, err := Parse("bad.yaml", []byte(spec))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", spec)
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want *SpecError", err, err)
			}
			prefix := "bad.yaml:"
			if tc.line > 0 {
				prefix = "bad.yaml:" + itoa(tc.line) + ": "
			}
			for _, d := range se.Diags {
				if s := d.String(); strings.HasPrefix(s, prefix) && strings.Contains(s, tc.want) {
					return
				}
			}
			t.Errorf("want a diagnostic %q...%q, got:\n%v", prefix, tc.want, err)
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(path, []byte("nodes: {a: {bogus: 1}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1: ") {
		t.Fatalf("Load error = %v, want %s:1: ...", err, path)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

func TestLoadOrInline(t *testing.T) {
	s, err := LoadOrInline("nodes: {a: {}, b: {}}\nlinks: [{a: {node: a}, b: {node: b}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.File != "inline" || len(s.Links) != 1 {
		t.Fatalf("spec %+v", s)
	}
}

func TestParseRateAndSize(t *testing.T) {
	rates := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"10mbit", 10e6, true}, {"1gbit", 1e9, true}, {"500kbit", 500e3, true},
		{"2mbps", 16e6, true}, {"1.5mbit", 1.5e6, true},
		{"10", 0, false}, {"mbit", 0, false}, {"10furlongs", 0, false}, {"1bit", 0, false}, {"-5mbit", 0, false},
	}
	for _, tc := range rates {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	sizes := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"1500", 1500, true}, {"32kb", 32 << 10, true}, {"1mb", 1 << 20, true}, {"2k", 2048, true},
		{"0", 0, false}, {"5gb", 0, false}, {"x", 0, false}, {"2048mb", 0, false},
	}
	for _, tc := range sizes {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNftRules(t *testing.T) {
	s, err := Parse("t", []byte(`nodes:
  nat: {nat: {masquerade: [wan], family: ip, forward: [{proto: udp, port: 4500, to: 198.18.1.2}]}}
  b: {}
links:
  - {a: {node: nat, iface: wan, addr: 198.18.0.1/24, loss: 7}, b: {node: b, addr: 198.18.0.2/24}}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := nftRules(s.Node("nat"))
	for _, want := range []string{
		"table inet esphub_lab {",
		"type nat hook postrouting priority srcnat",
		`meta nfproto ipv4 oifname "wan" counter masquerade`,
		"type nat hook prerouting priority dstnat",
		`meta nfproto ipv4 iifname "wan" udp dport 4500 counter dnat ip to 198.18.1.2 comment "forward udp/4500"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("nat rules lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "numgen") {
		t.Errorf("loss leaving nat is applied in nat:\n%s", got)
	}
	// Loss leaving nat's wan is applied where it arrives: b's interface "nat".
	got = nftRules(s.Node("b"))
	for _, want := range []string{
		"type filter hook prerouting priority raw",
		`iifname "nat" numgen random mod 100 < 7 counter drop`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("b's rules lack %q:\n%s", want, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(twoNodes))
	for _, p := range []string{"topologies/hub-2spokes.yaml", "topologies/hub-3spokes-nat.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("nodes: {a: {}}\nlinks: [{a: {node: a}, b: {node: a}}]\n"))
	f.Add([]byte("nodes: {a: {lo: 198.18.0.0/15}}\n"))
	// Half-broken specs: validation runs on whatever could be decoded.
	for _, s := range []string{
		"links: [{a: {}, b: {}}]\n",
		"nodes: {a: {nat: {}}}\n",
		"nodes: {a: {nat: {masquerade: [x, ''], family: 6}}}\n",
		"nodes: {a: {routes: [{}, {to: default}, {via: 198.18.0.1}, [1]]}}\n",
		"nodes: {a: {}}\nlinks: [{a: {node: a}, b: {node: a}}, 7, {a: 1, b: [2]}]\n",
		"nodes: {a: {lo: [x, [y], 198.18.0.1]}}\n",
		"nodes: {'': {}, ~: {}}\nlinks: [{a: {node: ''}, b: {node: ''}}]\n",
		"nodes: {a: 5, b: [], c: ~}\nlinks: 5\n",
		"[1, 2]\n",
		"nodes: {a: {}, b: {}}\nlinks: [{a: {node: a, iface: ''}, b: {node: b, iface: ''}, mtu: x, queues: 0}]\n",
		"nodes: {a: {sysctl: {net.ipv4.x: [1], net.: 2}}}\n",
		"nodes: {a: &x {forward: *x}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz", data)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || len(se.Diags) == 0 {
				t.Fatalf("error %v is not a non-empty *SpecError", err)
			}
			return
		}
		// Whatever is accepted must satisfy the invariants Up relies on.
		for _, n := range s.Nodes {
			for _, a := range n.Loopback {
				if !prefixInLab(a) {
					t.Fatalf("accepted %s outside the lab ranges", a)
				}
			}
			for _, e := range n.Ifaces {
				if len(e.Iface) == 0 || len(e.Iface) > MaxIfaceLen || e.Peer == nil || s.Node(e.Peer.Node) == nil {
					t.Fatalf("accepted bad endpoint %+v", e)
				}
				for _, a := range e.Addrs {
					if !prefixInLab(a) {
						t.Fatalf("accepted %s outside the lab ranges", a)
					}
				}
			}
			for _, r := range n.Routes {
				if r.To.Bits() != 0 && !prefixInLab(r.To) {
					t.Fatalf("accepted route to %s", r.To)
				}
			}
		}
	})
}

func TestParseAliases(t *testing.T) {
	s, err := Parse("alias.yaml", []byte(`nodes:
  a: {routes: &toinet [{to: default, via: 198.18.0.9}]}
  b: {routes: *toinet}
  inet: {}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: inet, addr: &gw 198.18.0.9/24}}
  - {a: {node: b, addr: 198.18.0.2/24}, b: {node: inet, iface: x, addr: 198.18.0.10/24}}
`))
	if err == nil {
		t.Fatalf("overlapping links accepted: %+v", s)
	}
	_, err = Parse("alias.yaml", []byte(`x-defaults: &host {forward: false}
nodes:
  a: *host
  b: *host
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: b, addr: 198.18.0.2/24}}
`))
	if err == nil || !strings.Contains(err.Error(), `alias.yaml:1: spec: unknown key "x-defaults"`) {
		t.Fatalf("want unknown key x-defaults, got %v", err)
	}
	_, err = Parse("alias.yaml", []byte(`nodes:
  a: &host {forward: false, routes: [{to: 198.19.0.0/16, via: 198.18.0.9}]}
  b: *host
  r: {}
links:
  - {a: {node: a, addr: 198.18.0.1/24}, b: {node: r, addr: 198.18.0.9/24}}
  - {a: {node: b, addr: 198.18.1.1/24}, b: {node: r, iface: x, addr: 198.18.1.9/24}}
`))
	if err == nil || !strings.Contains(err.Error(), "node b: route to 198.19.0.0/16: gateway 198.18.0.9 is not on any of its links") {
		t.Fatalf("want b's shared route rejected, got %v", err)
	}
	s, err = Parse("alias.yaml", []byte(`nodes:
  a: &host {forward: false}
  b: *host
links:
  - {a: {node: a, addr: &a1 198.18.0.1/24}, b: {node: b, addr: [198.18.0.2/24]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Node("a").Forward || s.Node("b").Forward {
		t.Errorf("aliased node settings not applied")
	}
}

// TestVRFLinksMayOverlap: links of different VRFs may reuse a subnet (the
// same LAN addresses in two VRFs behind one router); within one VRF, or
// without VRFs, overlap is still an error.
func TestVRFLinksMayOverlap(t *testing.T) {
	const spec = `nodes: {r: {}, a: {}, b: {}}
links:
  - vrf: red
    a: {node: r, iface: red, addr: [198.19.1.1/24]}
    b: {node: a, addr: [198.19.1.10/24]}
  - vrf: %s
    a: {node: r, iface: blue, addr: [198.19.1.1/24]}
    b: {node: b, addr: [198.19.1.10/24]}
`
	s, err := Parse("vrf.yaml", []byte(fmt.Sprintf(spec, "blue")))
	if err != nil {
		t.Fatal(err)
	}
	if s.Links[0].VRF != "red" || s.Links[1].VRF != "blue" {
		t.Fatalf("vrfs %q %q", s.Links[0].VRF, s.Links[1].VRF)
	}
	if _, err := Parse("vrf.yaml", []byte(fmt.Sprintf(spec, "red"))); err == nil || !strings.Contains(err.Error(), "duplicate address 198.19.1.1") {
		t.Fatalf("same VRF: %v", err)
	}
}
