package wire

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
)

// testCertificate returns a freshly made self-signed DER certificate.
func testCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub.example"},
		NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(1800000000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// writePcap writes each message as an IKE datagram 198.18.0.1:500 ->
// 198.18.0.2:500 in a classic pcap file (Ethernet link type).
func writePcap(t *testing.T, path string, msgs [][]byte) {
	t.Helper()
	var f bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	f.Write(hdr)
	for i, m := range msgs {
		var p []byte
		p = append(p, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(m)))
		ip[8], ip[9] = 64, 17
		copy(ip[12:], []byte{198, 18, 0, 1, 198, 18, 0, 2})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		p = append(p, ip...)
		udp := make([]byte, 8)
		binary.BigEndian.PutUint16(udp[0:], PortIKE)
		binary.BigEndian.PutUint16(udp[2:], PortIKE)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(m)))
		p = append(append(p, udp...), m...)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(1700000000+i))
		le.PutUint32(rec[8:], uint32(len(p)))
		le.PutUint32(rec[12:], uint32(len(p)))
		f.Write(rec)
		f.Write(p)
	}
	if err := os.WriteFile(path, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clearAuth is an IKE_AUTH-shaped message whose inner payloads travel in the
// clear, so that tshark (which cannot decrypt our test cipher) dissects
// every payload type we encode.
func clearAuth(t *testing.T) *Message {
	ps := authInner()
	ps = append(ps,
		&Cert{Encoding: CertX509Signature, Data: testCertificate(t)},
		&CertReq{Encoding: CertX509Signature, Authorities: seq(20, 1)},
		DeleteChild(ProtocolESP, 0xc0000001, 0xc0000002),
		NewRekeySA(ProtocolESP, 0xc0000003),
		&EAP{Message: []byte{EAPResponse, 7, 0, 9, 1, 'u', 's', 'e', 'r'}},
	)
	r, _ := NewRedirect(Gateway{FQDN: "hub2.example"}, nil)
	ps = append(ps, r)
	return &Message{Header: Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}, Payloads: ps}
}

// TestTsharkOracle has tshark's IKEv2 dissector decode our encodings and checks
// that it sees the same payloads, notifies, transforms and selectors, and
// reports nothing malformed.
func TestTsharkOracle(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	msgs := []*Message{initRequest(), clearAuth(t)}
	var raw [][]byte
	for _, m := range msgs {
		raw = append(raw, mustEncode(t, m))
	}
	frags, err := AppendFragments(Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, MessageID: 1}, authInner(), testCipher{3}, nil, 200)
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, frags[0])
	dir := t.TempDir()
	if d := os.Getenv("WIRE_PCAP_DIR"); d != "" {
		dir = d
	}
	pcap := filepath.Join(dir, "ike.pcap")
	writePcap(t, pcap, raw)
	fields := []string{"isakmp.exchangetype", "isakmp.typepayload", "isakmp.notify.msgtype", "isakmp.tf.id.encr",
		"isakmp.ike2.attr.key_length", "isakmp.ts.start_ipv4", "isakmp.ts.end_ipv6", "isakmp.key_exchange.dh_group",
		"isakmp.id.data.fqdn", "isakmp.delete.spi", "isakmp.frag.number", "isakmp.frag.total",
		"isakmp.notify.data.redirect.new_resp_gw_ident.fqdn", "_ws.malformed", "_ws.expert.severity"}
	args := []string{"-r", pcap, "-n", "-d", "udp.port==500,isakmp", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(raw) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(raw), out)
	}
	for i, line := range lines {
		got := map[string]string{}
		for j, v := range strings.Split(line, "|") {
			got[fields[j]] = v
		}
		t.Logf("packet %d: %v", i, got)
		if got["_ws.malformed"] != "" {
			t.Errorf("packet %d: tshark says malformed", i)
		}
		// Severity 8388608 (0x800000) is PI_ERROR in Wireshark's expert info.
		for _, s := range strings.Split(got["_ws.expert.severity"], ",") {
			if n, _ := strconv.Atoi(s); n >= 8388608 {
				t.Errorf("packet %d: tshark expert error (severity %s)", i, s)
			}
		}
		var want map[string]string
		switch i {
		case 0:
			want = map[string]string{
				"isakmp.exchangetype":          "34",
				"isakmp.typepayload":           "33,2,3,3,3,3,3,2,3,3,3,3,34,40,41,41,41,41,41,43",
				"isakmp.notify.msgtype":        "16388,16389,16430,16431,16406",
				"isakmp.tf.id.encr":            "20,20,12",
				"isakmp.ike2.attr.key_length":  "256,128,128",
				"isakmp.key_exchange.dh_group": "19",
			}
		case 1:
			want = map[string]string{
				"isakmp.exchangetype":                                "35",
				"isakmp.typepayload":                                 "35,41,36,39,47,33,2,3,3,44,45,41,43,37,38,42,41,48,41",
				"isakmp.ts.start_ipv4":                               "0.0.0.0,198.18.0.0",
				"isakmp.ts.end_ipv6":                                 "2001:db8::ffff",
				"isakmp.id.data.fqdn":                                "spoke1.example",
				"isakmp.delete.spi":                                  "c0000001,c0000002",
				"isakmp.notify.msgtype":                              "16384,16396,16393,16407",
				"isakmp.notify.data.redirect.new_resp_gw_ident.fqdn": "hub2.example",
			}
		case 2:
			want = map[string]string{"isakmp.typepayload": "53", "isakmp.frag.number": "1", "isakmp.frag.total": strconv.Itoa(len(frags))}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("packet %d: tshark %s = %q, want %q", i, k, got[k], v)
			}
		}
	}
}
