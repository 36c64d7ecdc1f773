package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
)

// Real strongSwan 5.9 traffic, captured by testdata/strongswan/capture.sh:
// IKE_SA_INIT, IKE_AUTH with a virtual IP request, Child SA rekey, IKE SA
// rekey started by the responder, and Delete, once with AES-GCM (SK) and
// once with AES-CBC/HMAC-SHA-256 and fragmentation (SKF). The SK payloads
// are decrypted with the keys charon logged so that the inner payloads are
// checked too.

type capturedMsg struct {
	srcPort, dstPort int
	raw              []byte
}

var captureDir = filepath.Join("testdata", "strongswan")

func readCapture(t testing.TB, dir, scen string) ([]capturedMsg, [][]keyEntry) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, scen+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []capturedMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m capturedMsg
		var h string
		if _, err := fmt.Sscan(sc.Text(), &m.srcPort, &m.dstPort, &h); err != nil {
			t.Fatalf("%s: %v", scen, err)
		}
		if m.raw, err = hex.DecodeString(h); err != nil {
			t.Fatalf("%s: %v", scen, err)
		}
		msgs = append(msgs, m)
	}
	kb, err := os.ReadFile(filepath.Join(dir, scen+".keys"))
	if err != nil {
		t.Fatal(err)
	}
	// Group keys per IKE SA: a new group starts when a name repeats.
	var groups [][]keyEntry
	var cur []keyEntry
	for _, line := range strings.Split(strings.TrimSpace(string(kb)), "\n") {
		name, h, _ := strings.Cut(line, " ")
		k, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s keys: %v", scen, err)
		}
		for _, e := range cur {
			if e.name == name {
				groups = append(groups, cur)
				cur = nil
				break
			}
		}
		cur = append(cur, keyEntry{name, k})
	}
	return msgs, append(groups, cur)
}

type keyEntry struct {
	name string
	key  []byte
}

func findKey(g []keyEntry, name string) []byte {
	for _, e := range g {
		if e.name == name {
			return e.key
		}
	}
	return nil
}

var errTestICV = errors.New("ICV does not verify")

// openSK decrypts an SK/SKF body the way RFC 5282 (GCM: 32+4-byte key with
// salt, 8-byte IV, 16-byte ICV) or RFC 7296 §3.14 (CBC with HMAC-SHA2-256-128)
// describe, and strips the padding.
func openSK(encKey, integKey, aad, body []byte) ([]byte, error) {
	var pt []byte
	if integKey == nil {
		block, err := aes.NewCipher(encKey[:len(encKey)-4])
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if len(body) < 8+16 {
			return nil, errTestICV
		}
		nonce := append(append([]byte{}, encKey[len(encKey)-4:]...), body[:8]...)
		if pt, err = gcm.Open(nil, nonce, body[8:], aad); err != nil {
			return nil, errTestICV
		}
	} else {
		if len(body) < 16+16+16 || (len(body)-32)%16 != 0 {
			return nil, errTestICV
		}
		mac := hmac.New(sha256.New, integKey)
		mac.Write(aad)
		mac.Write(body[:len(body)-16])
		if !hmac.Equal(mac.Sum(nil)[:16], body[len(body)-16:]) {
			return nil, errTestICV
		}
		block, err := aes.NewCipher(encKey)
		if err != nil {
			return nil, err
		}
		ct := body[16 : len(body)-16]
		pt = make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, body[:16]).CryptBlocks(pt, ct)
	}
	if len(pt) == 0 || int(pt[len(pt)-1])+1 > len(pt) {
		return nil, errors.New("bad padding")
	}
	return pt[:len(pt)-1-int(pt[len(pt)-1])], nil
}

type decodedCapture struct {
	msgs  []*Message
	inner [][]Payload // per message; nil for IKE_SA_INIT and non-final fragments
	plain [][]byte
}

func decodeCapture(t testing.TB, dir, scen string) decodedCapture {
	t.Helper()
	raws, keys := readCapture(t, dir, scen)
	var dc decodedCapture
	saIndex := map[[2]uint64]int{}
	reasm := map[string]*Reassembler{}
	for i, cm := range raws {
		m, err := Decode(cm.raw)
		if err != nil {
			t.Fatalf("%s message %d: %v", scen, i, err)
		}
		if err := Validate(m); err != nil {
			t.Errorf("%s message %d (%v): %v", scen, i, m, err)
		}
		if e, err := m.Encode(); err != nil || !bytes.Equal(e, cm.raw) {
			t.Errorf("%s message %d (%v): Encode(Decode(b)) != b (%v)", scen, i, m, err)
		}
		dc.msgs = append(dc.msgs, m)
		dc.inner = append(dc.inner, nil)
		dc.plain = append(dc.plain, nil)
		if m.Header.Exchange == ExchangeIKESAInit {
			continue
		}
		spis := [2]uint64{m.Header.SPIi, m.Header.SPIr}
		idx, ok := saIndex[spis]
		if !ok {
			idx = len(saIndex)
			saIndex[spis] = idx
		}
		if idx >= len(keys) {
			t.Fatalf("%s: no keys for IKE SA %d", scen, idx)
		}
		suffix := "r"
		if m.Header.IsInitiator() {
			suffix = "i"
		}
		ek, ak := findKey(keys[idx], "Sk_e"+suffix), findKey(keys[idx], "Sk_a"+suffix)
		switch sk := m.Payloads[len(m.Payloads)-1].(type) {
		case *Encrypted:
			pt, err := openSK(ek, ak, sk.AAD, sk.Body)
			if err != nil {
				t.Fatalf("%s message %d (%v): %v", scen, i, m, err)
			}
			ps, err := DecodePayloads(sk.NextPayload, pt)
			if err != nil {
				t.Fatalf("%s message %d (%v): inner: %v", scen, i, m, err)
			}
			dc.inner[i], dc.plain[i] = ps, pt
		case *EncryptedFragment:
			pt, err := openSK(ek, ak, sk.AAD, sk.Body)
			if err != nil {
				t.Fatalf("%s message %d (%v): %v", scen, i, m, err)
			}
			key := fmt.Sprintf("%x/%d/%v/%v", spis, m.Header.MessageID, m.Header.IsResponse(), m.Header.IsInitiator())
			r := reasm[key]
			if r == nil {
				r = &Reassembler{}
				reasm[key] = r
			}
			done, err := r.Add(sk, pt)
			if err != nil {
				t.Fatalf("%s message %d: reassembly: %v", scen, i, err)
			}
			if done {
				ps, err := r.Payloads()
				if err != nil {
					t.Fatalf("%s message %d: reassembled: %v", scen, i, err)
				}
				dc.inner[i] = ps
				dc.plain[i] = append([]byte{}, r.buf...)
			}
		}
		if ps := dc.inner[i]; ps != nil {
			if err := ValidateInner(m.Header.Exchange, m.Header.IsResponse(), ps); err != nil {
				t.Errorf("%s message %d (%v %s): %v", scen, i, m, AppendSummary(nil, ps), err)
			}
			if e, err := AppendPayloadChain(nil, ps); err != nil || !bytes.Equal(e, dc.plain[i]) {
				t.Errorf("%s message %d: inner payloads do not re-encode to the plaintext (%v)", scen, i, err)
			}
			t.Logf("%s %d: %v %s", scen, i, m, AppendSummary(nil, ps))
		} else {
			t.Logf("%s %d: %v", scen, i, m)
		}
	}
	return dc
}

// findInner returns the decrypted payloads of the first message of exchange
// ex and direction response, with at least one payload of type t.
func findInner(dc decodedCapture, ex ExchangeType, response bool, t PayloadType) []Payload {
	for i, m := range dc.msgs {
		if m.Header.Exchange != ex || m.Header.IsResponse() != response || dc.inner[i] == nil {
			continue
		}
		for _, p := range dc.inner[i] {
			if p.Type() == t {
				return dc.inner[i]
			}
		}
	}
	return nil
}

var captureScenarios = []string{"gcm", "cbc", "eap", "v6"}

// captureWant holds what each capture scenario must show (capture.sh).
type captureWant struct {
	encr      EncrID
	prf       PRFID
	responder netip.Addr   // IDr
	vip, dns  netip.Prefix // CP reply (INTERNAL_IP4/6_ADDRESS as a prefix, DNS as /32 or /128)
	tsr       netip.Prefix
}

var (
	want4 = captureWant{encr: EncrAESGCM16, prf: PRFHMACSHA2256, responder: netip.MustParseAddr("198.18.0.2"),
		vip: netip.MustParsePrefix("198.19.100.1/32"), dns: netip.MustParsePrefix("198.19.2.53/32"), tsr: netip.MustParsePrefix("198.19.2.0/24")}
	captureWants = map[string]captureWant{
		"gcm": want4,
		"cbc": {encr: EncrAESCBC, prf: PRFHMACSHA2256, responder: want4.responder, vip: want4.vip, dns: want4.dns, tsr: want4.tsr},
		"eap": want4,
		"v6": {encr: EncrAESGCM16, prf: PRFHMACSHA2384, responder: netip.MustParseAddr("2001:db8::2"),
			vip: netip.MustParsePrefix("2001:db8:100::1/64") /* strongSwan sends prefix length 64 */, dns: netip.MustParsePrefix("2001:db8:2::53/128"), tsr: netip.MustParsePrefix("2001:db8:2::/64")},
	}
)

func TestStrongSwanCaptures(t *testing.T) {
	for _, scen := range captureScenarios {
		t.Run(scen, func(t *testing.T) { checkCapture(t, captureDir, scen) })
	}
}

// TestStrongSwanLive captures fresh traffic between two strongSwan daemons in
// network namespaces (capture.sh) and checks it like the committed captures,
// so that a newer strongSwan cannot drift away from the codec unnoticed.
func TestStrongSwanLive(t *testing.T) {
	testenv.Short(t)
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "/usr/lib/ipsec/charon", "swanctl", "tcpdump", "tshark", "ip", "openssl")
	for _, scen := range captureScenarios {
		t.Run(scen, func(t *testing.T) {
			dir := t.TempDir()
			script, err := filepath.Abs(filepath.Join(captureDir, "capture.sh"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", script, scen)
			cmd.Env = append(os.Environ(), "CAPTURE_OUT="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("capture.sh %s: %v\n%s", scen, err, out)
			}
			checkCapture(t, dir, scen)
		})
	}
}

func checkCapture(t *testing.T, dir, scen string) {
	t.Helper()
	dc := decodeCapture(t, dir, scen)
	init := dc.msgs[0]
	if init.Header.Exchange != ExchangeIKESAInit || init.Header.IsResponse() {
		t.Fatalf("first message is %v", init)
	}
	sa := First[*SA](init.Payloads)
	if sa == nil || len(sa.Proposals) == 0 {
		t.Fatal("no SA in IKE_SA_INIT")
	}
	want := captureWants[scen]
	if tr := sa.Proposals[0].Transforms[0]; tr.Encr() != want.encr {
		t.Errorf("first transform %v %v, want %v", tr.Type, tr.Encr(), want.encr)
	}
	if prfs := sa.Proposals[0].TransformsOf(nil, TransformPRF); len(prfs) != 1 || prfs[0].PRF() != want.prf {
		t.Errorf("PRF transforms %v, want %v", prfs, want.prf)
	}
	if FindNotify(init.Payloads, NotifyNATDetectionSourceIP) == nil {
		t.Error("no NAT_DETECTION_SOURCE_IP in IKE_SA_INIT")
	} else if _, err := FindNotify(init.Payloads, NotifyNATDetectionSourceIP).NATDetectionHash(); err != nil {
		t.Error(err)
	}
	if scen == "gcm" {
		v := First[*VendorID](init.Payloads)
		if v == nil || Identify(v.Data) != VendorFlexVPN {
			t.Errorf("no FLEXVPN-SUPPORTED vendor ID from charon.cisco_flexvpn=yes")
		}
	}

	req := findInner(dc, ExchangeIKEAuth, false, PayloadIDi)
	if req == nil {
		t.Fatal("no decrypted IKE_AUTH request")
	}
	if id := First[*ID](req); id == nil || id.IDType != IDFQDN || string(id.Data) != "spoke1.example" {
		t.Errorf("IDi = %+v", id)
	}
	resp := findInner(dc, ExchangeIKEAuth, true, PayloadIDr)
	if resp == nil {
		t.Fatal("no decrypted IKE_AUTH response")
	}
	if id := First[*ID](resp); id == nil || !id.Responder {
		t.Errorf("IDr = %+v", id)
	} else if a, ok := id.Addr(); !ok || a != want.responder {
		t.Errorf("IDr address = %v", a)
	}
	// With EAP the CP reply comes in the last IKE_AUTH response, not the first.
	resp = findInner(dc, ExchangeIKEAuth, true, PayloadCP)
	cp := First[*Configuration](resp)
	if cp == nil || cp.CFGType != CFGReply {
		t.Fatalf("CP reply = %+v", cp)
	}
	v6 := want.vip.Addr().Is6()
	vip, _ := cp.AssignedPrefix(v6)
	dnsAttr := AttrInternalIP4DNS
	if v6 {
		dnsAttr = AttrInternalIP6DNS
	}
	dns := cp.AppendAddrs(nil, dnsAttr)
	if vip != want.vip || len(dns) != 1 || dns[0] != want.dns.Addr() {
		t.Errorf("CP reply address %v DNS %v, want %v %v", vip, dns, want.vip, want.dns)
	}
	var tsr *TrafficSelectors
	for _, p := range resp {
		if ts, ok := p.(*TrafficSelectors); ok && ts.Responder {
			tsr = ts
		}
	}
	if tsr == nil || len(tsr.Selectors) != 1 {
		t.Fatalf("TSr = %+v", tsr)
	}
	if p, ok := tsr.Selectors[0].Prefix(); !ok || p != want.tsr {
		t.Errorf("TSr = %v", tsr.Selectors[0])
	}
	if rk := findInner(dc, ExchangeCreateChildSA, false, PayloadNotify); rk == nil || FindNotify(rk, NotifyRekeySA) == nil {
		t.Error("no CREATE_CHILD_SA with REKEY_SA")
	} else if _, spi, err := FindNotify(rk, NotifyRekeySA).RekeySA(); err != nil || spi == 0 {
		t.Errorf("REKEY_SA: %x %v", spi, err)
	}
	if d := findInner(dc, ExchangeInformational, false, PayloadDelete); d == nil {
		t.Error("no INFORMATIONAL with Delete")
	}
	sawFragments := false
	for _, m := range dc.msgs {
		if _, ok := m.Payloads[len(m.Payloads)-1].(*EncryptedFragment); ok {
			sawFragments = true
		}
	}
	if sawFragments != (scen == "cbc") {
		t.Errorf("fragments seen: %v", sawFragments)
	}
	if scen == "eap" {
		checkEAPCapture(t, dc)
	}
}

// checkEAPCapture checks the certificate and EAP payloads of the eap
// scenario: the responder's CERTREQ in IKE_SA_INIT, its certificate and
// signature AUTH in the first IKE_AUTH response, the EAP-MD5 rounds, and
// the PSK-less AUTH that ends them.
func checkEAPCapture(t *testing.T, dc decodedCapture) {
	t.Helper()
	initResp := dc.msgs[1]
	cr := First[*CertReq](initResp.Payloads)
	if cr == nil || cr.Encoding != CertX509Signature || cr.NumAuthorities() != 1 || len(cr.Authority(0)) != AuthorityLen {
		t.Errorf("IKE_SA_INIT response CERTREQ = %+v", cr)
	}
	resp := findInner(dc, ExchangeIKEAuth, true, PayloadCERT)
	if resp == nil {
		t.Fatal("no IKE_AUTH response with CERT")
	}
	cert := First[*Cert](resp)
	if cert.Encoding != CertX509Signature {
		t.Errorf("CERT encoding %v", cert.Encoding)
	}
	c, err := x509.ParseCertificate(cert.Data)
	if err != nil {
		t.Fatalf("CERT data: %v", err)
	}
	if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.IPv4(198, 18, 0, 2)) {
		t.Errorf("certificate SAN %v", c.IPAddresses)
	}
	if a := First[*Auth](resp); a == nil || (a.Method != AuthDigitalSignature && a.Method != AuthECDSA256) {
		t.Errorf("responder AUTH = %+v", a)
	}
	var codes []uint8
	for i, m := range dc.msgs {
		if m.Header.Exchange != ExchangeIKEAuth {
			continue
		}
		for _, p := range dc.inner[i] {
			if e, ok := p.(*EAP); ok {
				codes = append(codes, e.Code())
				if e.Code() == EAPRequest && e.MethodType() == 4 && len(e.MethodData()) < 1 {
					t.Errorf("EAP-MD5 challenge without data")
				}
			}
		}
	}
	// Request (identity or MD5 challenge) / Response pairs, then Success.
	if len(codes) < 3 || codes[len(codes)-1] != EAPSuccess || codes[0] != EAPRequest {
		t.Errorf("EAP codes %v", codes)
	}
}

// captureSeeds returns the raw captured messages, for fuzz seeds.
func captureSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, scen := range captureScenarios {
		msgs, _ := readCapture(t, captureDir, scen)
		for _, m := range msgs {
			out = append(out, m.raw)
		}
	}
	return out
}
