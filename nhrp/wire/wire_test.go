package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/esphub/esphub/internal/testenv"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var a = netip.MustParseAddr

func TestGoldenRoundTrip(t *testing.T) {
	for name, b := range goldenAll {
		t.Run(name, func(t *testing.T) {
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := p.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("round trip differs\n got %x\nwant %x", got, b)
			}
		})
	}
}

func TestGoldenFields(t *testing.T) {
	p, err := Decode(goldenResReqFRR)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypeResolutionRequest || p.HopCount != 64 || p.RequestID != 0x1234 ||
		p.Flags != FlagResQ|FlagResA|FlagResS|FlagNAT {
		t.Errorf("header/mandatory: %+v", p)
	}
	if p.SrcNBMA != a("198.18.1.1") || p.SrcProto != a("198.19.0.2") || p.DstProto != a("198.19.11.10") {
		t.Errorf("addresses: %v %v %v", p.SrcNBMA, p.SrcProto, p.DstProto)
	}
	if len(p.CIEs) != 1 || p.CIEs[0].PrefixLen != 0xff || p.CIEs[0].HoldTime != 7200 || p.CIEs[0].MTU != 1400 || p.CIEs[0].NBMA.IsValid() {
		t.Errorf("CIE: %+v", p.CIEs)
	}
	wantTypes := []ExtType{ExtForwardTransitNHS, ExtReverseTransitNHS, ExtResponderAddress, ExtNATAddress, ExtEnd}
	if len(p.Extensions) != len(wantTypes) {
		t.Fatalf("extensions: %+v", p.Extensions)
	}
	for i, w := range wantTypes {
		if p.Extensions[i].Type != w {
			t.Errorf("ext %d = %v, want %v", i, p.Extensions[i].Type, w)
		}
	}
	nat := p.Ext(ExtNATAddress)
	if nat.Compulsory || len(nat.CIEs) != 1 || nat.CIEs[0].NBMA != a("198.18.101.1") || nat.CIEs[0].Proto != a("198.19.0.2") {
		t.Errorf("NAT ext: %+v", nat)
	}

	p, err = Decode(goldenResReqForwarded)
	if err != nil {
		t.Fatal(err)
	}
	if fw := p.Ext(ExtForwardTransitNHS); p.HopCount != 63 || len(fw.CIEs) != 1 || fw.CIEs[0].NBMA != a("198.18.0.1") {
		t.Errorf("forwarded: hop %d fwd %+v", p.HopCount, fw)
	}

	p, err = Decode(goldenResReplyAuth)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.CIEs[0]; c.PrefixLen != 24 || c.NBMA != a("198.18.2.1") || c.Proto != a("198.19.0.3") {
		t.Errorf("reply CIE: %+v", c)
	}
	pw, ok := p.Ext(ExtAuthentication).CiscoAuthPassword()
	if !ok || string(bytes.TrimRight(pw, "\x00")) != "s3cr3t" {
		t.Errorf("auth: %q %v", pw, ok)
	}

	p, err = Decode(goldenTrafficIndication)
	if err != nil {
		t.Fatal(err)
	}
	src, dst, ok := InnerAddrs(p.Payload)
	if p.TrafficCode() != TrafficCodeRedirect || p.HopCount != 1 || !ok || src != a("198.19.10.10") || dst != a("198.19.11.10") || p.DstProto != src {
		t.Errorf("traffic indication: %+v inner %v %v %v", p, src, dst, ok)
	}

	p, err = Decode(goldenErrorHopCount)
	if err != nil {
		t.Fatal(err)
	}
	if p.ErrorCode() != CodeHopCountExceeded || p.ErrorOffset() != 9 || !bytes.Equal(p.Payload, goldenResReqFRR) {
		t.Errorf("error indication: code %v off %d", p.ErrorCode(), p.ErrorOffset())
	}

	p, err = Decode(goldenResReqV6overV4)
	if err != nil {
		t.Fatal(err)
	}
	if p.AFN != AFNIPv4 || p.ProType != ProtoIPv6 || p.DstProto != a("2001:db8:b::10") {
		t.Errorf("v6 over v4: %+v", p)
	}
	p, err = Decode(goldenResReplyV6overV6)
	if err != nil {
		t.Fatal(err)
	}
	if p.AFN != AFNIPv6 || p.CIEs[0].NBMA != a("2001:db8:2::1") || p.CIEs[0].PrefixLen != 64 ||
		!bytes.Equal(p.Ext(ExtVendorPrivate).Data, []byte{0, 0, 9, 0xaa, 0xbb}) {
		t.Errorf("v6 over v6: %+v", p)
	}
}

// fix recomputes the checksum of an edited packet so the test reaches the
// check it aims at.
func fix(b []byte) []byte {
	Header(b).UpdateChecksum()
	return b
}

func edit(src []byte, f func(b []byte) []byte) []byte {
	return f(append([]byte(nil), src...))
}

func TestDecodeMalformed(t *testing.T) {
	frr := goldenResReqFRR
	extOff := int(Header(frr).ExtOff())
	tests := []struct {
		name string
		in   []byte
		code Code
	}{
		{"empty", nil, CodeNone},
		{"short header", frr[:19], CodeNone},
		{"pktsz beyond buffer", frr[:len(frr)-1], CodeNone},
		{"pktsz below minimum", edit(frr, func(b []byte) []byte { binary.BigEndian.PutUint16(b[10:], 20); return b }), CodeNone},
		{"bad checksum", edit(frr, func(b []byte) []byte { b[30] ^= 1; return b }), CodeNone},
		{"version 2", edit(frr, func(b []byte) []byte { b[16] = 2; return fix(b) }), CodeProtocolError},
		{"type 9", edit(frr, func(b []byte) []byte { b[17] = 9; return fix(b) }), CodeProtocolError},
		{"type 0", edit(frr, func(b []byte) []byte { b[17] = 0; return fix(b) }), CodeProtocolError},
		{"afn E.164", edit(frr, func(b []byte) []byte { b[1] = 8; return fix(b) }), CodeProtocolError},
		{"protocol IPX", edit(frr, func(b []byte) []byte { b[2], b[3] = 0x81, 0x37; return fix(b) }), CodeProtocolError},
		{"snap set", edit(frr, func(b []byte) []byte { b[6] = 1; return fix(b) }), CodeProtocolError},
		{"shtl 16 for IPv4", edit(frr, func(b []byte) []byte { b[18] = 16; return fix(b) }), CodeProtocolError},
		{"shtl E.164", edit(frr, func(b []byte) []byte { b[18] = 0x44; return fix(b) }), CodeProtocolError},
		{"subaddress", edit(frr, func(b []byte) []byte { b[19] = 4; return fix(b) }), CodeProtocolError},
		{"src proto len 5", edit(frr, func(b []byte) []byte { b[20] = 5; return fix(b) }), CodeProtocolError},
		{"dst proto len 200", edit(frr, func(b []byte) []byte { b[21] = 200; return fix(b) }), CodeProtocolError},
		{"extoff inside mandatory part", edit(frr, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14:], 24); return fix(b) }), CodeProtocolError},
		{"extoff beyond packet", edit(frr, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14:], uint16(len(b)-2)); return fix(b) }), CodeProtocolError},
		{"CIE cut by extoff", edit(frr, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14:], uint16(extOff-2)); return fix(b) }), CodeProtocolError},
		{"CIE prefix too long", edit(goldenResReplyAuth, func(b []byte) []byte { b[41] = 33; return fix(b) }), CodeProtocolError},
		{"CIE subaddress", edit(frr, func(b []byte) []byte { b[41+8] = 1; return fix(b) }), CodeProtocolError},
		{"unknown compulsory extension", edit(frr, func(b []byte) []byte { b[extOff+1] = 0x33; return fix(b) }), CodeUnrecognizedExtension},
		{"unused ext bit", edit(frr, func(b []byte) []byte { b[extOff] |= 0x40; return fix(b) }), CodeInvalidExtension},
		{"ext length past end", edit(frr, func(b []byte) []byte { b[extOff+3] = 0xf0; return fix(b) }), CodeInvalidExtension},
		{"transit record not a CIE", edit(frr, func(b []byte) []byte {
			// Give the forward transit record a 3-byte body, stealing it from the next headers.
			b[extOff+3] = 3
			return fix(b)
		}), CodeInvalidExtension},
		{"missing End", edit(frr, func(b []byte) []byte {
			b = b[:len(b)-4]
			binary.BigEndian.PutUint16(b[10:], uint16(len(b)))
			return fix(b)
		}), CodeInvalidExtension},
		{"data after End", edit(frr, func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			binary.BigEndian.PutUint16(b[10:], uint16(len(b)))
			return fix(b)
		}), CodeInvalidExtension},
		{"broken Error Indication is never answered", edit(goldenErrorHopCount, func(b []byte) []byte { b[16] = 3; return fix(b) }), CodeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Decode = %+v, %v; want *ParseError", p, err)
			}
			if pe.Code != tt.code {
				t.Fatalf("code = %v (%v), want %v", pe.Code, pe, tt.code)
			}
			if int(pe.Offset) > len(tt.in) {
				t.Fatalf("offset %d beyond the packet (%d)", pe.Offset, len(tt.in))
			}
		})
	}
}

func TestDecodeIgnoresLinkPadding(t *testing.T) {
	b := append(append([]byte(nil), goldenTrafficIndication...), 0, 0, 0)
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := p.Encode()
	if !bytes.Equal(out, goldenTrafficIndication) {
		t.Fatal("padding leaked into the packet")
	}
}

func TestNATExtOpaqueFallback(t *testing.T) {
	// An RFC 2735 device-capabilities extension (type 9, not compulsory, 8
	// bytes) is not a CIE list: it must be kept opaque, not rejected.
	p := &Packet{AFN: AFNIPv4, ProType: ProtoIPv4, HopCount: 64, Type: TypeRegistrationRequest, RequestID: 1,
		SrcNBMA: a("198.18.1.1"), SrcProto: a("198.19.0.2"), DstProto: a("198.19.0.1"),
		Extensions: []Extension{{Type: ExtNATAddress, Data: []byte{0, 0, 0, 1, 0, 0, 0, 0}}}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if x := q.Ext(ExtNATAddress); x == nil || len(x.Data) != 8 || x.CIEs != nil {
		t.Fatalf("NAT ext: %+v", x)
	}
	if q.Extensions[len(q.Extensions)-1].Type != ExtEnd {
		t.Fatal("Encode did not append the End extension")
	}
}

func TestEncodeRejects(t *testing.T) {
	base := func() *Packet {
		return &Packet{AFN: AFNIPv4, ProType: ProtoIPv4, HopCount: 64, Type: TypeResolutionRequest,
			SrcNBMA: a("198.18.1.1"), SrcProto: a("198.19.0.2"), DstProto: a("198.19.11.10")}
	}
	tests := []struct {
		name string
		mod  func(p *Packet)
	}{
		{"v6 NBMA in v4 family", func(p *Packet) { p.SrcNBMA = a("2001:db8::1") }},
		{"v4 proto in v6 type", func(p *Packet) { p.ProType = ProtoIPv6 }},
		{"zone", func(p *Packet) { p.ProType = ProtoIPv6; p.SrcProto = a("fe80::1%eth0"); p.DstProto = a("2001:db8::1") }},
		{"bad afn", func(p *Packet) { p.AFN = 3 }},
		{"bad type", func(p *Packet) { p.Type = 9 }},
		{"payload on request", func(p *Packet) { p.Payload = []byte{1} }},
		{"CIE on indication", func(p *Packet) { p.Type = TypeTrafficIndication; p.CIEs = []CIE{{}} }},
		{"CIE prefix", func(p *Packet) { p.CIEs = []CIE{{PrefixLen: 40, Proto: a("198.19.0.9")}} }},
		{"End not last", func(p *Packet) { p.Extensions = []Extension{{Type: ExtEnd}, {Type: ExtVendorPrivate}} }},
		{"CIEs in auth", func(p *Packet) { p.Extensions = []Extension{{Type: ExtAuthentication, CIEs: []CIE{{}}}} }},
		{"ext type too wide", func(p *Packet) { p.Extensions = []Extension{{Type: 0x4001}} }},
		{"too long", func(p *Packet) { p.Type = TypeTrafficIndication; p.Payload = make([]byte, 70000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.mod(p)
			b, err := p.Encode()
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("Encode = %x, %v; want *EncodeError", b, err)
			}
		})
	}
}

func TestHeaderView(t *testing.T) {
	b := append([]byte(nil), goldenResReqFRR...)
	h := Header(b)
	if !h.Valid() || h.AFN() != AFNIPv4 || h.ProType() != ProtoIPv4 || h.HopCount() != 64 ||
		int(h.PktSz()) != len(b) || h.Version() != 1 || h.Type() != TypeResolutionRequest ||
		h.SHTL() != 4 || h.SSTL() != 0 || h.ExtOff() != 52 || !h.ChecksumOK() {
		t.Fatalf("header view wrong: % x", b[:20])
	}
	h.SetHopCount(63)
	if h.ChecksumOK() {
		t.Fatal("checksum still verifies after an edit")
	}
	h.UpdateChecksum()
	if !h.ChecksumOK() {
		t.Fatal("UpdateChecksum did not fix the checksum")
	}
	if Header(b[:19]).Valid() {
		t.Fatal("short header valid")
	}
	if n := testing.AllocsPerRun(100, func() { h.SetHopCount(62); h.UpdateChecksum() }); n != 0 {
		t.Fatalf("hop-count rewrite allocates %v times", n)
	}
}

func TestChecksumOddLength(t *testing.T) {
	// RFC 1071 example bytes, padded: 0001 f203 f4f5 f6f7 -> sum 0xddf2.
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Fatalf("Checksum = %#x", got)
	}
	if Checksum([]byte{0xab}) != ^uint16(0xab00) {
		t.Fatal("odd byte not padded on the right")
	}
}

func TestInnerAddrs(t *testing.T) {
	v6 := make([]byte, 40)
	v6[0] = 0x60
	copy(v6[8:], a("2001:db8:a::1").AsSlice())
	copy(v6[24:], a("2001:db8:b::1").AsSlice())
	tests := []struct {
		name     string
		in       []byte
		src, dst netip.Addr
		ok       bool
	}{
		{"v4", goldenTrafficIndication[40:68], a("198.19.10.10"), a("198.19.11.10"), true},
		{"v6", v6, a("2001:db8:a::1"), a("2001:db8:b::1"), true},
		{"v6 truncated", v6[:39], netip.Addr{}, netip.Addr{}, false},
		{"v4 ihl 4", []byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, netip.Addr{}, netip.Addr{}, false},
		{"empty", nil, netip.Addr{}, netip.Addr{}, false},
		{"version 5", []byte{0x50}, netip.Addr{}, netip.Addr{}, false},
	}
	for _, tt := range tests {
		src, dst, ok := InnerAddrs(tt.in)
		if src != tt.src || dst != tt.dst || ok != tt.ok {
			t.Errorf("%s: got %v %v %v", tt.name, src, dst, ok)
		}
	}
}

func TestErrorIndicationBuilder(t *testing.T) {
	p := NewErrorIndication(goldenResReqFRR, CodeLoopDetected, 60, a("198.18.0.1"), a("198.19.0.1"), a("198.19.0.2"), 32)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.Type != TypeErrorIndication || q.ErrorCode() != CodeLoopDetected || q.ErrorOffset() != 60 || len(q.Payload) != 32 || q.DstProto != a("198.19.0.2") {
		t.Fatalf("got %+v", q)
	}
}

// TestTsharkOracle has tshark decode the golden packets inside IPv4/GRE and
// checks its reading against ours, so the codec is not only self-consistent.
func TestTsharkOracle(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	names := []string{"resReqFRR", "resReqForwarded", "resReplyAuth", "trafficIndication", "errorHopCount", "resReqV6overV4", "resReplyV6overV6"}
	var pcap bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101) // LINKTYPE_RAW
	pcap.Write(hdr)
	for _, n := range names {
		nhrp := goldenAll[n]
		ip := make([]byte, 24, 24+len(nhrp))
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(24+len(nhrp)))
		ip[8], ip[9] = 64, 47
		copy(ip[12:], a("198.18.0.1").AsSlice())
		copy(ip[16:], a("198.18.1.1").AsSlice())
		binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:20]))
		binary.BigEndian.PutUint16(ip[22:], GREProtocol)
		ip = append(ip, nhrp...)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(ip)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(ip)))
		pcap.Write(rec)
		pcap.Write(ip)
	}
	file := filepath.Join(t.TempDir(), "nhrp.pcap")
	if err := os.WriteFile(file, pcap.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", file, "-T", "fields", "-E", "separator=|",
		"-e", "nhrp.hdr.op.type", "-e", "nhrp.hdr.hopcnt", "-e", "nhrp.reqid", "-e", "nhrp.hdr.chksum.status",
		"-e", "nhrp.src.prot.addr", "-e", "nhrp.dst.prot.addr", "-e", "_ws.malformed",
		"-e", "nhrp.src.prot.addr_bytes").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(names) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(names), out)
	}
	for i, line := range lines {
		f := strings.Split(line, "|")
		p, err := Decode(goldenAll[names[i]])
		if err != nil {
			t.Fatal(err)
		}
		// For an Error Indication tshark also dissects the quoted packet, so
		// fields repeat; compare the first occurrence.
		first := func(s string) string { return strings.Split(s, ",")[0] }
		if first(f[0]) != itoa(int(p.Type)) || first(f[1]) != itoa(int(p.HopCount)) {
			t.Errorf("%s: tshark type/hops %q/%q, ours %d/%d", names[i], f[0], f[1], p.Type, p.HopCount)
		}
		if p.Type != TypeErrorIndication && p.Type != TypeTrafficIndication && first(f[2]) != fmt.Sprintf("0x%08x", p.RequestID) {
			t.Errorf("%s: tshark request id %q, ours %d", names[i], f[2], p.RequestID)
		}
		if first(f[3]) != "1" { // PROTO_CHECKSUM_E_GOOD
			t.Errorf("%s: tshark checksum status %q", names[i], f[3])
		}
		if p.ProType == ProtoIPv6 {
			// tshark shows IPv6 protocol addresses as bytes only.
			if first(f[7]) != hex.EncodeToString(p.SrcProto.AsSlice()) {
				t.Errorf("%s: tshark source %q, ours %v", names[i], f[7], p.SrcProto)
			}
		} else if first(f[4]) != p.SrcProto.String() || first(f[5]) != p.DstProto.String() {
			t.Errorf("%s: tshark addresses %q %q, ours %v %v", names[i], f[4], f[5], p.SrcProto, p.DstProto)
		}
		if f[6] != "" {
			t.Errorf("%s: tshark says malformed", names[i])
		}
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(goldenResReqForwarded); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	p, _ := Decode(goldenResReqForwarded)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNamesAndMessages(t *testing.T) {
	if TypeTrafficIndication.String() != "Traffic Indication" || Type(42).String() != "Type(42)" ||
		!TypeResolutionRequest.IsRequest() || TypeResolutionReply.IsRequest() {
		t.Error("Type names")
	}
	if CodeHopCountExceeded.String() != "hop count exceeded" || Code(99).String() != "code 99" {
		t.Error("Code names")
	}
	if ExtNATAddress.String() != "NAT Address" || ExtType(77).String() != "extension 77" {
		t.Error("ExtType names")
	}
	_, err := Decode(edit(goldenResReqFRR, func(b []byte) []byte { b[16] = 2; return fix(b) }))
	if err == nil || !strings.Contains(err.Error(), "unsupported version (offset 16, protocol error)") {
		t.Errorf("error text %q", err)
	}
	_, err = Decode(goldenResReqFRR[:5])
	if err == nil || strings.Contains(err.Error(), "code") {
		t.Errorf("silent-drop error text %q", err)
	}
	if e := (&EncodeError{Reason: "x"}).Error(); e != "nhrp: encode: x" {
		t.Errorf("EncodeError %q", e)
	}
}

func TestDecodeNoChecksum(t *testing.T) {
	b := edit(goldenTrafficIndication, func(b []byte) []byte { b[12] ^= 0xff; return b })
	if _, err := Decode(b); err == nil {
		t.Fatal("bad checksum accepted by Decode")
	}
	p, err := DecodeNoChecksum(b)
	if err != nil || p.Type != TypeTrafficIndication {
		t.Fatalf("DecodeNoChecksum: %v", err)
	}
	x := NewCiscoAuth("a-very-long-password")
	if pw, ok := x.CiscoAuthPassword(); !ok || string(pw) != "a-very-l" {
		t.Fatalf("auth truncation %q", pw)
	}
	vendor := Extension{Type: ExtVendorPrivate, Data: []byte{0, 0, 0, 1}}
	if _, ok := vendor.CiscoAuthPassword(); ok {
		t.Fatal("vendor extension read as a password")
	}
}
