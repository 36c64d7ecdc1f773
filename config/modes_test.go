package config

import (
	"strings"
	"testing"
)

// TestModeRules pins the IOS mode rules: a line that is not a sub-command
// of the current mode closes it (and is tried in the enclosing modes);
// `exit` leaves one mode, `end` and a flush-left `!` leave all of them.
func TestModeRules(t *testing.T) {
	tests := []struct {
		name, src string
		err       string // "" = must parse; else substring of the single error
		check     func(t *testing.T, c *Config)
	}{
		{"top-level line closes the mode", "crypto ikev2 proposal p\nencryption aes-cbc-128\nintegrity sha1\ngroup 14\ninterface Tunnel0\nip address 198.18.0.1 255.255.255.252\n", "",
			func(t *testing.T, c *Config) {
				if c.Proposal("p") == nil || c.Interface("Tunnel0") == nil || len(c.Interface("Tunnel0").Addresses) != 1 {
					t.Fatal("both blocks must be applied")
				}
			}},
		{"nested mode falls back to its parent", "crypto ikev2 keyring k\npeer a\naddress 198.18.0.2\npre-shared-key x\npeer b\naddress 198.18.0.3\npre-shared-key y\n", "",
			func(t *testing.T, c *Config) {
				if n := len(c.Keyring("k").Peers); n != 2 {
					t.Fatalf("want 2 peers, got %d", n)
				}
			}},
		{"exit leaves one mode", "crypto ikev2 keyring k\n peer a\n  address 198.18.0.2\n  pre-shared-key x\n  exit\n address 198.18.0.9\n", "not valid in crypto ikev2 keyring mode", nil},
		{"end leaves every mode", "crypto ikev2 proposal p\n encryption aes-cbc-128\nend\n integrity sha1\n", "not valid at the top level", nil},
		{"bang leaves every mode", "crypto ikev2 proposal p\n encryption aes-cbc-128\n!\nintegrity sha1\n", "not valid at the top level", nil},
		{"indented bang is a comment", "crypto ikev2 proposal p\n encryption aes-cbc-128\n !\n integrity sha1\n group 14\n", "", nil},
		{"indented line after bang continues an unimplemented block", "router bgp 65000\n neighbor 198.18.0.1 remote-as 65000\n!\n address-family ipv4\n  neighbor 198.18.0.1 activate\n exit-address-family\n!\nhostname h\n", "",
			func(t *testing.T, c *Config) {
				if c.Hostname != "h" {
					t.Fatal("hostname lost")
				}
			}},
		{"sub-command of an unimplemented block is skipped", "router rip\nversion 2\nnetwork 198.18.0.0\nno auto-summary\nhostname h\n", "", nil},
		{"keywords are case-insensitive", "CRYPTO IKEV2 PROPOSAL p\n ENCRYPTION AES-CBC-128\n Integrity SHA1\n group 14\n", "", nil},
		{"a quoted word is not a keyword", "\"crypto\" ikev2 window 5\n", "unknown command", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Parse("m.cfg", []byte(tc.src))
			errs := diags.Errors()
			if tc.err == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Msg, tc.err) {
				t.Fatalf("want one error containing %q, got %v", tc.err, diags)
			}
		})
	}
}

// TestWarningsNameCommands checks that skipped IOS commands are reported
// once each, by name, at their line.
func TestWarningsNameCommands(t *testing.T) {
	src := "ip domain name lab.example\nrouter rip\n network 198.18.0.0\ninterface GigabitEthernet1\n no ip redirects\n ip address 198.18.0.1 255.255.255.0\n"
	_, diags := Parse("w.cfg", []byte(src))
	want := []string{
		`w.cfg:1:1: warning: "ip domain name" is not implemented by esphub; ignoring it`,
		`w.cfg:2:1: warning: "router rip" is not implemented by esphub; ignoring it and its sub-commands`,
		`w.cfg:5:2: warning: "no ip redirects" is not implemented by esphub; ignoring it`,
	}
	if len(diags) != len(want) {
		t.Fatalf("got %v", diags)
	}
	for i, d := range diags {
		if d.String() != want[i] {
			t.Errorf("got  %s\nwant %s", d, want[i])
		}
	}
}

// TestDefaults pins the smart-default values (G:636-640) and their
// disabling and restoring (G:619-625).
func TestDefaults(t *testing.T) {
	c := mustParse(t, "")
	if p := c.Proposal("default"); p == nil || !p.Builtin || len(p.Encryption) != 3 || p.Groups[0] != 5 {
		t.Fatalf("default proposal: %+v", p)
	}
	if ip := c.IPsecProfile("default"); ip.LifetimeKB != 4608000 || ip.LifetimeSeconds != 3600 || ip.PFS != 0 {
		t.Fatalf("default IPsec profile: %+v", ip)
	}
	if a := c.AuthzPolicy("default"); !a.RouteSetInterface || *a.RouteAccept != (RouteAccept{Tag: 1, Distance: 2}) {
		t.Fatalf("default authorization policy: %+v", a)
	}
	if ts := c.TransformSet("default"); ts.TransformString() != "esp-aes esp-sha-hmac" || ts.Mode != "tunnel" {
		t.Fatalf("default transform set: %+v", ts)
	}
	if pol := c.Policy("default"); pol.MatchFVRF != "any" || pol.Proposals[0] != "default" {
		t.Fatalf("default policy: %+v", pol)
	}
	if got := c.RunningConfig(false); got != "end\n" {
		t.Fatalf("an empty configuration renders as %q", got)
	}

	c = mustParse(t, "no crypto ikev2 proposal default\n")
	if c.Proposal("default") != nil || !c.DefaultDisabled(DefaultProposal) {
		t.Fatal("no crypto ikev2 proposal default must remove it")
	}
	if !strings.Contains(c.RunningConfig(false), "no crypto ikev2 proposal default\n") {
		t.Fatal("a disabled default is shown in the running-config")
	}
	c = mustParse(t, "no crypto ikev2 proposal default\ndefault crypto ikev2 proposal\n")
	if p := c.Proposal("default"); p == nil || !p.Builtin || c.DefaultDisabled(DefaultProposal) {
		t.Fatal("default crypto ikev2 proposal must restore the built-in one")
	}

	// modifying a default: the first line of each transform type replaces
	// the built-in list, the others stay
	c = mustParse(t, "crypto ikev2 proposal default\n encryption aes-cbc-128\n")
	p := c.Proposal("default")
	if p.Builtin || len(p.Encryption) != 1 || len(p.Integrity) != 5 {
		t.Fatalf("modified default proposal: %+v", p)
	}
	c = mustParse(t, "crypto ikev2 proposal nge\n encryption aes-gcm-256\n prf sha512\n group 21\ncrypto ikev2 policy default\n match vrf any\n proposal nge\n")
	if pol := c.Policy("default"); len(pol.Proposals) != 1 || pol.Proposals[0] != "nge" {
		t.Fatalf("modified default policy (B:1388-1395): %+v", pol)
	}
	// IPsec profile without transform set uses the default transform set
	c = mustParse(t, "crypto ipsec profile p\n set pfs group14\n")
	if ts := c.EffectiveTransformSets(c.IPsecProfile("p")); len(ts) != 1 || ts[0].Name != "default" {
		t.Fatalf("effective transform sets: %v", ts)
	}
}

// TestEqualIgnoresPositions checks the reload-diff contract: moving lines
// keeps models equal, changing a value does not.
func TestEqualIgnoresPositions(t *testing.T) {
	a := mustParse(t, "hostname h\ncrypto ikev2 window 10\n")
	b := mustParse(t, "\n\ncrypto ikev2 window 10\n!\nhostname h\n")
	c := mustParse(t, "hostname h\ncrypto ikev2 window 11\n")
	if !Equal(a, b) {
		t.Fatal("moved lines must compare equal")
	}
	if Equal(a, c) {
		t.Fatal("a changed window must not compare equal")
	}
	if !Equal(a.Proposal("default"), b.Proposal("default")) {
		t.Fatal("objects compare too")
	}
}

func TestInterfaceNames(t *testing.T) {
	tests := []struct {
		in, want string
		kind     InterfaceKind
		ok       bool
	}{
		{"Tunnel0", "Tunnel0", KindTunnel, true},
		{"tunnel0", "Tunnel0", KindTunnel, true},
		{"Tu10", "Tunnel10", KindTunnel, true},
		{"Virtual-Templat1", "Virtual-Template1", KindVirtualTemplate, true}, // G:2106, an IOS abbreviation
		{"virtual-template1", "Virtual-Template1", KindVirtualTemplate, true},
		{"Loopback0", "Loopback0", KindLoopback, true},
		{"lo0", "Loopback0", KindLoopback, true},
		{"g1", "GigabitEthernet1", KindPhysical, true}, // B:42-58
		{"Ethernet0/1.10", "Ethernet0/1.10", KindPhysical, true},
		{"e0/0", "Ethernet0/0", KindPhysical, true},
		{"eth0", "eth0", KindPhysical, true}, // Linux
		{"enp0s3", "enp0s3", KindPhysical, true},
		{"tun0", "tun0", KindPhysical, true},
		{"lo", "lo", KindPhysical, true},
		{"Virtual-Templatel", "", "", false}, // G:3323 misprint
		{"Tunnell", "", "", false},           // G:7269 misprint
		{"Tunnel", "", "", false},
		{"Foo0", "", "", false},
	}
	for _, tc := range tests {
		name, kind, _, ok := canonicalInterface(tc.in)
		if ok != tc.ok || name != tc.want || kind != tc.kind {
			t.Errorf("%q: got %q %q %v, want %q %q %v", tc.in, name, kind, ok, tc.want, tc.kind, tc.ok)
		}
	}
}
