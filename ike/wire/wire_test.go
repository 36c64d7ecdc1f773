package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// initRequest is an IKE_SA_INIT request shaped like strongSwan's
// (SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP)) plus Cisco VIDs.
func initRequest() *Message {
	return &Message{
		Header: Header{SPIi: 0x0102030405060708, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{
				{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
					EncrTransform(EncrAESGCM16, 256), EncrTransform(EncrAESGCM16, 128),
					PRFTransform(PRFHMACSHA2256), DHTransform(DHECP256), DHTransform(DHCurve25519),
				}},
				{Number: 2, Protocol: ProtocolIKE, Transforms: []Transform{
					EncrTransform(EncrAESCBC, 128), IntegTransform(IntegHMACSHA2256128),
					PRFTransform(PRFHMACSHA2256), DHTransform(DHMODP2048),
				}},
			}},
			&KE{Group: DHECP256, Data: seq(64, 0x40)},
			&Nonce{Data: seq(32, 0x90)},
			&Notify{NotifyType: NotifyNATDetectionSourceIP, Data: seq(20, 1)},
			&Notify{NotifyType: NotifyNATDetectionDestinationIP, Data: seq(20, 2)},
			&Notify{NotifyType: NotifyIKEv2FragmentationSupported},
			&Notify{NotifyType: NotifySignatureHashAlgorithms, Data: []byte{0, 2, 0, 3, 0, 4}},
			&Notify{NotifyType: NotifyRedirectSupported},
			&VendorID{Data: []byte(VendorFlexVPNSupported)},
		},
	}
}

// authInner is the plaintext of an IKE_AUTH request shaped like strongSwan's.
func authInner() []Payload {
	return []Payload{
		&ID{IDType: IDFQDN, Data: []byte("spoke1.example")},
		&Notify{NotifyType: NotifyInitialContact},
		&ID{Responder: true, IDType: IDIPv4Addr, Data: []byte{198, 18, 0, 1}},
		&Auth{Method: AuthSharedKeyMIC, Data: seq(32, 7)},
		&Configuration{CFGType: CFGRequest, Attributes: []ConfigAttribute{
			{AttrType: AttrInternalIP4Address}, {AttrType: AttrInternalIP4DNS},
			SubnetAttribute(netip.MustParsePrefix("198.18.10.0/24")),
		}},
		&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: []byte{0xc1, 0x2a, 0x33, 0x44},
			Transforms: []Transform{EncrTransform(EncrAESGCM16, 256), ESNTransform(ESNNo)}}}},
		&TrafficSelectors{Selectors: []TrafficSelector{{TSType: TSIPv4AddrRange, EndPort: 65535,
			Start: netip.MustParseAddr("0.0.0.0"), End: netip.MustParseAddr("255.255.255.255")}}},
		&TrafficSelectors{Responder: true, Selectors: []TrafficSelector{
			{TSType: TSIPv4AddrRange, EndPort: 65535, Start: netip.MustParseAddr("198.18.0.0"), End: netip.MustParseAddr("198.19.255.255")},
			{TSType: TSIPv6AddrRange, IPProtocol: 47, EndPort: 65535, Start: netip.MustParseAddr("2001:db8::"), End: netip.MustParseAddr("2001:db8::ffff")},
		}},
		&Notify{NotifyType: NotifyMOBIKESupported},
		&VendorID{Data: []byte(VendorCiscoDynamicRoute)},
	}
}

func mustEncode(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func TestRoundTripInit(t *testing.T) {
	m := initRequest()
	b := mustEncode(t, m)
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Header.NextPayload != PayloadSA || int(got.Header.Length) != len(b) {
		t.Errorf("header next %v length %d, want SA %d", got.Header.NextPayload, got.Header.Length, len(b))
	}
	want := *m
	want.Header.NextPayload, want.Header.Length, want.Header.MajorVersion = PayloadSA, uint32(len(b)), 2
	if !reflect.DeepEqual(got.Header, want.Header) {
		t.Errorf("header = %+v, want %+v", got.Header, want.Header)
	}
	if !reflect.DeepEqual(got.Payloads, want.Payloads) {
		t.Errorf("payloads differ:\n got %+v\nwant %+v", got.Payloads, want.Payloads)
	}
	if b2 := mustEncode(t, got); !bytes.Equal(b, b2) {
		t.Errorf("Encode(Decode(b)) != b")
	}
	if sa := First[*SA](got.Payloads); sa == nil || sa.Proposals[0].Transforms[0].KeyLength != 256 {
		t.Errorf("First[*SA] = %+v", sa)
	}
	if FindNotify(got.Payloads, NotifyRedirectSupported) == nil || FindNotify(got.Payloads, NotifyCookie) != nil {
		t.Errorf("FindNotify wrong")
	}
}

func TestRoundTripInner(t *testing.T) {
	inner := authInner()
	pt, err := AppendPayloadChain(nil, inner)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePayloads(inner[0].Type(), pt)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got, inner) {
		t.Errorf("payloads differ:\n got %+v\nwant %+v", got, inner)
	}
	pt2, _ := AppendPayloadChain(nil, got)
	if !bytes.Equal(pt, pt2) {
		t.Error("re-encoding differs")
	}
}

// TestGoldenInit pins the encoding of a small IKE_SA_INIT to bytes written out by
// hand from RFC 7296 §3 (and checked with tshark, see testdata/README).
func TestGoldenInit(t *testing.T) {
	m := &Message{
		Header: Header{SPIi: 0x1122334455667788, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
				EncrTransform(EncrAESGCM16, 256), PRFTransform(PRFHMACSHA2256), DHTransform(DHECP256)}}}},
			&Nonce{Data: seq(16, 0xa0)},
		},
	}
	want := hexBytes(t, `
		1122334455667788 0000000000000000 21 20 22 08 00000000 00000058
		28 00 0028
		  00 00 0024 01 01 00 03
		    03 00 000c 01 00 0014 800e 0100
		    03 00 0008 02 00 0005
		    00 00 0008 04 00 0013
		00 00 0014 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf`)
	got := mustEncode(t, m)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
}

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean []byte
	for _, c := range []byte(s) {
		if c != ' ' && c != '\n' && c != '\t' {
			clean = append(clean, c)
		}
	}
	b := make([]byte, len(clean)/2)
	for i := range b {
		hi, lo := unhex(clean[2*i]), unhex(clean[2*i+1])
		if hi < 0 || lo < 0 {
			t.Fatalf("bad hex %q", clean[2*i:2*i+2])
		}
		b[i] = byte(hi<<4 | lo)
	}
	return b
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func TestDecodeErrors(t *testing.T) {
	good := mustEncode(t, initRequest())
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte{}, good...))
	}
	// offset of the first payload (SA) generic header
	const sa = HeaderLen
	tests := []struct {
		name   string
		in     []byte
		notify NotifyType
		data   []byte
	}{
		{"short", good[:20], NotifyInvalidSyntax, nil},
		{"major version 3", mod(func(b []byte) []byte { b[17] = 0x30; return b }), NotifyInvalidMajorVersion, nil},
		{"length beyond datagram", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[24:], uint32(len(b)+1)); return b }), NotifyInvalidSyntax, nil},
		{"trailing bytes", append(append([]byte{}, good...), 0), NotifyInvalidSyntax, nil},
		{"truncated", mod(func(b []byte) []byte { b = b[:len(b)-3]; binary.BigEndian.PutUint32(b[24:], uint32(len(b))); return b }), NotifyInvalidSyntax, nil},
		{"payload length 3", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[sa+2:], 3); return b }), NotifyInvalidSyntax, nil},
		{"unknown critical", mod(func(b []byte) []byte { b[16] = 200; b[sa+1] = 0x80; return b }), NotifyUnsupportedCriticalPayload, []byte{200}},
		{"proposal last substruc 1", mod(func(b []byte) []byte { b[sa+4] = 1; return b }), NotifyInvalidSyntax, nil},
		{"proposal number 0", mod(func(b []byte) []byte { b[sa+8] = 0; return b }), NotifyInvalidSyntax, nil},
		{"transform count", mod(func(b []byte) []byte { b[sa+11]++; return b }), NotifyInvalidSyntax, nil},
		{"IKE SPI size 4", mod(func(b []byte) []byte { b[sa+10] = 4; return b }), NotifyInvalidSyntax, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			n, data, ok := NotifyFor(err)
			if !ok || n != tt.notify || !bytes.Equal(data, tt.data) {
				t.Errorf("NotifyFor = %v %x %v, want %v %x (err %v)", n, data, ok, tt.notify, tt.data, err)
			}
		})
	}
}

func TestUnknownNonCriticalKept(t *testing.T) {
	m := initRequest()
	m.Payloads = append(m.Payloads, &Unknown{PayloadType: 200, Body: []byte{1, 2, 3}})
	b := mustEncode(t, m)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := got.Payloads[len(got.Payloads)-1].(*Unknown)
	if !ok || u.PayloadType != 200 || !bytes.Equal(u.Body, []byte{1, 2, 3}) {
		t.Fatalf("last payload = %#v", got.Payloads[len(got.Payloads)-1])
	}
	if !bytes.Equal(mustEncode(t, got), b) {
		t.Error("round trip differs")
	}
}

func TestPayloadValidation(t *testing.T) {
	tests := []struct {
		name string
		t    PayloadType
		body string
	}{
		{"nonce short", PayloadNonce, "000102030405060708090a0b0c0d0e"},
		{"KE no data", PayloadKE, "00130000"},
		{"IPv4 ID wrong length", PayloadIDi, "01000000c61200"},
		{"empty FQDN", PayloadIDr, "02000000"},
		{"AUTH no data", PayloadAUTH, "02000000"},
		{"ESP notify SPI size 3", PayloadNotify, "03034000aabbcc"},
		{"notify SPI overrun", PayloadNotify, "0008400000"},
		{"IKE delete with SPI", PayloadDelete, "01040001aabbccdd"},
		{"ESP delete count", PayloadDelete, "03040002aabbccdd"},
		{"ESP delete zero", PayloadDelete, "03040000"},
		{"TS zero", PayloadTSi, "00000000"},
		{"TS count", PayloadTSi, "02000000070000100000ffffc6120000c612ffff"},
		{"TS v4 length", PayloadTSr, "01000000070000140000ffffc6120000c612ffff00000000"},
		{"CP bad type", PayloadCP, "09000000"},
		{"CP v4 address 3 bytes", PayloadCP, "020000000001000301020 3"},
		{"CP attr overrun", PayloadCP, "0100000000010008"},
		{"EAP length", PayloadEAP, "0201000601"},
		{"EAP success with data", PayloadEAP, "0301000500"},
		{"EAP bad code", PayloadEAP, "0901000401"},
		{"EAP initiate without type", PayloadEAP, "05010004"},
		{"CERTREQ not multiple of 20", PayloadCERTREQ, "04aabb"},
		{"empty VID", PayloadVendorID, ""},
		{"SA empty", PayloadSA, ""},
		{"SA key length TLV", PayloadSA, "0000001001010001" + "000000080100001400" + "0e0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := hexBytes(t, tt.body)
			chain := append([]byte{0, 0, 0, 0}, body...)
			binary.BigEndian.PutUint16(chain[2:], uint16(len(chain)))
			_, err := DecodePayloads(tt.t, chain)
			if n, _, ok := NotifyFor(err); !ok || n != NotifyInvalidSyntax {
				t.Errorf("err = %v, want INVALID_SYNTAX", err)
			}
		})
	}
}

func TestNestedSKRejected(t *testing.T) {
	_, err := DecodePayloads(PayloadSK, []byte{0, 0, 0, 5, 1})
	if n, _, _ := NotifyFor(err); n != NotifyInvalidSyntax {
		t.Fatalf("err = %v", err)
	}
}

func TestSKMustBeLast(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeIKEAuth}, Payloads: []Payload{
		&Encrypted{NextPayload: PayloadIDi, Body: seq(40, 0)}}}
	b := mustEncode(t, m)
	// Grow the message by a trailing Notify the SK payload does not cover.
	b[16] = byte(PayloadSK)
	b = append(b, 0, 0, 0, 8, 0, 0, 0x40, 0x00)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	if _, err := Decode(b); err == nil {
		t.Fatal("SK followed by bytes decoded")
	}
}

func TestMessageString(t *testing.T) {
	m := initRequest()
	want := "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) V ]"
	if got := m.String(); got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
	got := string(AppendSummary(nil, authInner()))
	want = "[ IDi N(INIT_CONTACT) IDr AUTH CPRQ SA TSi TSr N(MOBIKE_SUP) V ]"
	if got != want {
		t.Errorf("summary = %q\nwant %q", got, want)
	}
}

func TestErrorResponse(t *testing.T) {
	req := initRequest()
	b := mustEncode(t, req)
	b[17] = 0x30 // IKEv3
	_, err := Decode(b)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	h, _ := DecodeHeader(b[:HeaderLen])
	resp := ErrorResponse(h, e.NotifyPayload())
	out := mustEncode(t, resp)
	m, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.MajorVersion != 2 || !m.Header.IsResponse() || m.Header.IsInitiator() || m.Header.SPIi != req.Header.SPIi {
		t.Errorf("response header %+v", m.Header)
	}
	if FindNotify(m.Payloads, NotifyInvalidMajorVersion) == nil {
		t.Errorf("response %v", m)
	}
	if err := Validate(m); err != nil {
		t.Error(err)
	}
	ps := authInner()
	if FindID(ps, true).IDType != IDIPv4Addr || FindID(ps, false).IDType != IDFQDN {
		t.Error("FindID")
	}
	if len(FindTS(ps, true).Selectors) != 2 || len(FindTS(ps, false).Selectors) != 1 {
		t.Error("FindTS")
	}
}
