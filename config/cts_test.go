package config

import (
	"strings"
	"testing"
)

func TestCTSParse(t *testing.T) {
	cfg := mustParse(t, `
crypto ikev2 cts sgt cmd-layout ip-protocol
ip access-list role-based WEB
 permit tcp src gt 1023 dst range 80 90 log
 deny ip
ipv6 access-list role-based WEB
 permit icmp
 deny ip
cts role-based enforcement
cts role-based permissions from 10 to unknown WEB
cts role-based permissions from 10 to unknown WEB OTHER
cts role-based permissions from unknown to 20 ipv6 WEB
cts role-based permissions default WEB
interface Tunnel1
 cts manual
  no propagate sgt
  policy static sgt 40 trusted
end
`)
	if !cfg.IKEv2.CTSSGT || cfg.IKEv2.CTSSGTLayout != "ip-protocol" {
		t.Errorf("cts sgt: %v %q", cfg.IKEv2.CTSSGT, cfg.IKEv2.CTSSGTLayout)
	}
	if !cfg.CTS.Enforcement || len(cfg.CTS.Permissions) != 3 {
		t.Fatalf("cts: %+v", cfg.CTS)
	}
	p := cfg.CTS.Permissions[0]
	if p.From != 10 || p.To != UnknownSGT || p.IPv6 || strings.Join(p.ACLs, ",") != "WEB,OTHER" {
		t.Errorf("a second line for a cell replaces it: %+v", p)
	}
	if p := cfg.CTS.Permissions[1]; p.From != UnknownSGT || p.To != 20 || !p.IPv6 {
		t.Errorf("ipv6 cell: %+v", p)
	}
	if !cfg.CTS.Permissions[2].Default {
		t.Errorf("default: %+v", cfg.CTS.Permissions[2])
	}
	a, a6 := cfg.RoleBasedACL("WEB", false), cfg.RoleBasedACL("WEB", true)
	if a == nil || a6 == nil || len(a.Entries) != 2 || len(a6.Entries) != 2 {
		t.Fatalf("acls: %+v %+v", a, a6)
	}
	e := a.Entries[0]
	if !e.Permit || e.Protocol != "tcp" || e.Src == nil || e.Dst == nil || !e.Log {
		t.Fatalf("entry: %+v", e)
	}
	if lo, hi, not := e.Src.Range(); lo != 1024 || hi != 65535 || not {
		t.Errorf("src gt 1023: %d-%d %v", lo, hi, not)
	}
	if lo, hi, _ := e.Dst.Range(); lo != 80 || hi != 90 {
		t.Errorf("dst range: %d-%d", lo, hi)
	}
	if pr, any := a6.Entries[0].ProtocolNumber(true); pr != 58 || any {
		t.Errorf("icmp in ipv6 list: %d %v", pr, any)
	}
	if a6.Entries[1].Protocol != "ipv6" {
		t.Errorf("ip in an IPv6 list reads as ipv6: %q", a6.Entries[1].Protocol)
	}
	if m := cfg.Interface("Tunnel1").CTSManual; m == nil || !m.NoPropagate || m.StaticSGT != 40 || !m.Trusted {
		t.Errorf("cts manual: %+v", m)
	}
	out := cfg.RunningConfig(false)
	for _, want := range []string{"crypto ikev2 cts sgt cmd-layout ip-protocol", " permit tcp src gt 1023 dst range 80 90 log",
		"cts role-based permissions from 10 to unknown WEB OTHER", "cts role-based permissions from unknown to 20 ipv6 WEB",
		" cts manual\n  no propagate sgt\n  policy static sgt 40 trusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
}

func TestCTSErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"ip access-list role-based A\n permit icmp dst eq 80\n", "port conditions need tcp or udp"},
		{"ip access-list role-based A\n permit tcp dst range 90 80\n", "is empty"},
		{"ip access-list role-based A\n permit tcp dst foo 80\n", "want eq, neq, gt, lt or range"},
		{"ip access-list role-based A\n permit ipv6\n", "ipv6 in an IPv4"},
		{"ip access-list role-based A\n permit bogus\n", "want ip, icmp, tcp, udp"},
		{"ip access-list role-based A\n permit tcp dst eq 80 dst eq 81\n", "dst given twice"},
		{"cts role-based permissions from 10 to 20\n", "expected the name"},
		{"cts role-based permissions from 1 to 20 A\n", "SGT"},
		{"cts role-based permissions to 20 A\n", "expected default or from"},
		{"crypto ikev2 cts sgt cmd-layout gre\n", "want ethertype or ip-protocol"},
		{"interface Tunnel1\n cts manual\n  policy static sgt 10 sure\n", "expected trusted"},
	} {
		_, diags := Parse("t.cfg", []byte(tc.src))
		if !diags.HasErrors() || !strings.Contains(diags.Err().Error(), tc.want) {
			t.Errorf("%q: %v, want error containing %q", tc.src, diags.Err(), tc.want)
		}
	}
	cfg, diags := Parse("t.cfg", []byte("cts role-based sgt-map vrf red 198.19.0.0/16 sgt 5\ncts role-based sgt-map 198.19.0.0/16 sgt 6\n"))
	if len(cfg.SGTMaps) != 2 || cfg.SGTMaps[0].VRF != "red" || cfg.SGTMaps[1].VRF != "" || !strings.Contains(diagText(diags), `vrf "red" is not defined`) {
		t.Errorf("vrf maps: %+v %s", cfg.SGTMaps, diagText(diags))
	}
	_, diags = Parse("t.cfg", []byte("cts role-based permissions from 10 to 20 NOPE\n"))
	if diags.HasErrors() || !strings.Contains(diagText(diags), "not defined") || !strings.Contains(diagText(diags), "not enforced") {
		t.Errorf("undefined list / no enforcement: %v", diagText(diags))
	}
}

func diagText(d Diagnostics) string {
	var b strings.Builder
	for _, x := range d {
		b.WriteString(x.String() + "\n")
	}
	return b.String()
}
