package dataplane

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/internal/testenv"
)

// tsharkAlg maps our algorithms to the names of Wireshark's esp_sa table.
func tsharkAlg(a esp.Algorithm) (enc, auth string) {
	switch a {
	case esp.AESGCM16:
		return "AES-GCM with 16 octet ICV [RFC4106]", "NULL"
	case esp.AESCBCSHA1:
		return "AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]"
	case esp.AESCBCSHA256:
		return "AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]"
	}
	return "", ""
}

// TsharkSA returns the tshark "-o uat:esp_sa:..." value that lets Wireshark
// decrypt and authenticate one SA, for tests that capture our traffic.
func tsharkSA(outer6 bool, spi uint32, alg esp.Algorithm, enc, auth []byte) string {
	e, a := tsharkAlg(alg)
	ak := ""
	if len(auth) > 0 {
		ak = fmt.Sprintf("0x%x", auth)
	}
	fam := "IPv4"
	if outer6 {
		fam = "IPv6"
	}
	return fmt.Sprintf(`uat:esp_sa:"%s","*","*","0x%08x","%s","0x%x","%s","%s"`, fam, spi, e, enc, a, ak)
}

type tsharkCase struct {
	name  string
	spec  pairSpec
	src   netip.Addr
	dst   netip.Addr
	vrf   uint32
	label bool
}

// TestTsharkDecodes is the wire-format oracle: ESP we build for every mode,
// inner and outer family, encapsulation and algorithm (and GRE with MPLS)
// is written to a pcap and must decode in tshark with our keys: ICV
// [correct], the expected next layers, and an inner ICMP checksum that
// verifies (so the inner packet is intact). tshark 4.0 has no ESN support,
// so ESN is covered by the esp package's RFC 4106 oracle instead.
func TestTsharkDecodes(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	var cases []tsharkCase
	spi := uint32(0x10000)
	for _, mode := range []Mode{ModeGRE, ModeIPsec} {
		for _, outer6 := range []bool{false, true} {
			for _, encap := range []bool{false, true} {
				for _, su := range suites {
					for _, inner6 := range []bool{false, true} {
						spi += 2
						src, dst := hostA4, hostB4
						if inner6 {
							src, dst = hostA6, hostB6
						}
						cases = append(cases, tsharkCase{
							name: fmt.Sprintf("%v outer6=%v encap=%v %s inner6=%v", mode, outer6, encap, su.name, inner6),
							spec: pairSpec{mode: mode, outer6: outer6, encap: encap, suite: su, greKey: encap, spi: spi},
							src:  src, dst: dst,
						})
					}
				}
			}
		}
	}
	spi += 2
	cases = append(cases, tsharkCase{name: "gre mpls", spec: pairSpec{mode: ModeGRE, suite: suites[0], spi: spi},
		src: hostA4, dst: netip.MustParseAddr("198.19.5.5"), vrf: 3, label: true})

	var pkts [][]byte
	args := []string{"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}
	for _, c := range cases {
		pr := newPair(t, c.spec)
		if c.label {
			must(t, pr.a.AddRoute(c.vrf, netip.MustParsePrefix("198.19.5.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 1, Label: 4242, PushLabel: true}))
		}
		p := NewPacket(DefaultBufferSize)
		p.SetData(icmpPacket(c.src, c.dst, 300, 7))
		p.VRF = c.vrf
		pr.wa.ProcessOutbound([]*Packet{p})
		if p.Verdict != VerdictUnderlay {
			t.Fatalf("%s: %v %v", c.name, p.Verdict, p.Drop)
		}
		pkts = append(pkts, append([]byte(nil), p.Data()...))
		args = append(args, "-o", tsharkSA(c.spec.outer6, pr.spiAB, c.spec.suite.alg, pr.encAB, pr.mAB))
	}
	path := t.TempDir() + "/esp.pcap"
	writePcap(t, path, pkts)
	args = append([]string{"-r", path}, args...)
	args = append(args, "-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "esp.spi",
		"-e", "esp.icv_good", "-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status", "-e", "mpls.label",
		"-e", "ip.dst", "-e", "ipv6.dst")
	cmd := exec.Command("tshark", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		f := strings.Split(lines[i], "|")
		protos, spiField, icv, icmp4, icmp6, label, ipDst, ip6Dst := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
		want := []string{"esp"}
		if c.spec.encap {
			want = append(want, "udpencap")
		}
		if c.spec.mode == ModeGRE {
			want = append(want, "gre")
		}
		if c.label {
			want = append(want, "mpls")
		}
		if c.src.Is4() {
			want = append(want, "icmp")
		} else {
			want = append(want, "icmpv6")
		}
		for _, w := range want {
			if !strings.Contains(":"+protos+":", ":"+w+":") {
				t.Errorf("%s: protocols %q lack %s", c.name, protos, w)
			}
		}
		if spiField != fmt.Sprintf("0x%08x", c.spec.spi) || icv != "1" {
			t.Errorf("%s: spi %s icv_good %q (want [correct])", c.name, spiField, icv)
		}
		if (c.src.Is4() && icmp4 != "1") || (c.src.Is6() && icmp6 != "1") {
			t.Errorf("%s: inner ICMP checksum status %q/%q, want good", c.name, icmp4, icmp6)
		}
		if !strings.Contains(ipDst+","+ip6Dst, c.dst.String()) {
			t.Errorf("%s: inner destination %s not in %s / %s", c.name, c.dst, ipDst, ip6Dst)
		}
		if c.label && label != "4242" {
			t.Errorf("%s: mpls label %q", c.name, label)
		}
	}
}
