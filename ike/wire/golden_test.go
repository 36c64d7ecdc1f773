package wire

import (
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

// testCipher is a toy Sealer/Opener for codec tests: XOR with a key stream
// and an 8-byte SHA-256 tag over aad and ciphertext. It is not a cipher;
// ike/suite provides the real ones.
type testCipher struct{ key byte }

func (c testCipher) Overhead(n int) int { return 4 + 8 } // 4-byte "IV", 8-byte tag

func (c testCipher) Seal(dst, aad, pt []byte, _ io.Reader) ([]byte, error) {
	dst = append(dst, 1, 2, 3, 4)
	start := len(dst)
	for _, b := range pt {
		dst = append(dst, b^c.key)
	}
	h := sha256.New()
	h.Write(aad)
	h.Write(dst[start:])
	return append(dst, h.Sum(nil)[:8]...), nil
}

var errICV = errors.New("ICV mismatch")

func (c testCipher) Open(dst, aad, body []byte) ([]byte, error) {
	if len(body) < 12 {
		return dst, errICV
	}
	ct := body[4 : len(body)-8]
	h := sha256.New()
	h.Write(aad)
	h.Write(ct)
	if string(h.Sum(nil)[:8]) != string(body[len(body)-8:]) {
		return dst, errICV
	}
	for _, b := range ct {
		dst = append(dst, b^c.key)
	}
	return dst, nil
}

func authRequest(t testing.TB) []byte {
	h := Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	b, err := AppendProtected(nil, h, nil, authInner(), testCipher{0x5a}, nil)
	if err != nil {
		t.Fatalf("AppendProtected: %v", err)
	}
	return b
}

// goldenMessages returns realistic messages for fuzz seeds and round-trip tests.
func goldenMessages(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	add := func(m *Message) {
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("encode golden: %v", err)
		}
		out = append(out, b)
	}
	add(initRequest())
	resp := initRequest()
	resp.Header.SPIr = 0xa1a2a3a4a5a6a7a8
	resp.Header.Flags = FlagResponse
	resp.Payloads[0] = &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
		EncrTransform(EncrAESGCM16, 256), PRFTransform(PRFHMACSHA2256), DHTransform(DHECP256)}}}}
	resp.Payloads = append(resp.Payloads, &CertReq{Encoding: CertX509Signature, Authorities: seq(40, 3)})
	add(resp)
	add(&Message{Header: Header{SPIi: 7, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
		Payloads: []Payload{&Notify{NotifyType: NotifyInvalidKEPayload, Data: []byte{0, 14}}}})
	add(&Message{Header: Header{SPIi: 7, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
		Payloads: []Payload{&Notify{NotifyType: NotifyCookie, Data: seq(32, 9)}}})
	out = append(out, authRequest(t))
	frags, err := AppendFragments(Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1},
		authInner(), testCipher{0x33}, nil, 160)
	if err != nil {
		t.Fatalf("fragments: %v", err)
	}
	out = append(out, frags...)
	info, err := AppendProtected(nil, Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, MessageID: 5},
		nil, []Payload{DeleteChild(ProtocolESP, 0xc0010203, 0xc0040506), &Notify{NotifyType: NotifyRekeySA, Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}}}, testCipher{1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, info)
	dpd, err := AppendProtected(nil, Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, MessageID: 6}, nil, nil, testCipher{1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, dpd)
	return out
}

func TestGoldenRoundTrip(t *testing.T) {
	for i, b := range goldenMessages(t) {
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := Validate(m); err != nil {
			t.Errorf("message %d (%s): validate: %v", i, m.Header.Exchange, err)
		}
		e, err := m.Encode()
		if err != nil || string(e) != string(b) {
			t.Errorf("message %d: Encode(Decode(b)) != b (%v)", i, err)
		}
	}
}

func TestProtectedRoundTrip(t *testing.T) {
	b := authRequest(t)
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	sk := m.Payloads[len(m.Payloads)-1].(*Encrypted)
	if sk.NextPayload != PayloadIDi || len(sk.AAD) != HeaderLen+genericHeaderLen {
		t.Fatalf("SK next %v aad %d", sk.NextPayload, len(sk.AAD))
	}
	ps, _, err := Open(m, testCipher{0x5a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateInner(ExchangeIKEAuth, false, ps); err != nil {
		t.Fatal(err)
	}
	if id := First[*ID](ps); id == nil || string(id.Data) != "spoke1.example" {
		t.Fatalf("IDi = %+v", id)
	}
	// A flipped ciphertext bit must fail the ICV, and not as a syntax error.
	b[len(b)-10] ^= 1
	m, _ = Decode(b)
	_, _, err = Open(m, testCipher{0x5a}, nil)
	if !errors.Is(err, errICV) {
		t.Fatalf("tampered message: err = %v", err)
	}
	if _, _, ok := NotifyFor(err); ok {
		t.Fatal("ICV failure carries a notify")
	}
	// The length field is authenticated: changing the header changes the AAD.
	b[len(b)-10] ^= 1
	b[19] ^= FlagResponse
	m, _ = Decode(b)
	if _, _, err = Open(m, testCipher{0x5a}, nil); !errors.Is(err, errICV) {
		t.Fatalf("tampered header: err = %v", err)
	}
}

// TestOpenValidates: Open applies the exchange rules to the decrypted chain,
// so an authenticated request that breaks them gets INVALID_SYNTAX.
func TestOpenValidates(t *testing.T) {
	h := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, MessageID: 3}
	b, err := AppendProtected(nil, h, nil, []Payload{&Nonce{Data: seq(16, 0)}}, testCipher{9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(m, testCipher{9}, nil)
	if n, _, ok := NotifyFor(err); !ok || n != NotifyInvalidSyntax {
		t.Fatalf("Open of INFORMATIONAL with a Nonce: %v", err)
	}
}

func TestClonePayloads(t *testing.T) {
	for i, b := range goldenMessages(t) {
		buf := append([]byte(nil), b...)
		m, err := Decode(buf)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ClonePayloads(m.Payloads)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want, _ := (&Message{Header: m.Header, Payloads: m.Payloads}).Encode()
		for j := range buf {
			buf[j] = 0xee // the datagram buffer is reused
		}
		got, err := (&Message{Header: m.Header, Payloads: c}).Encode()
		if err != nil || string(got) != string(want) {
			t.Fatalf("message %d: clone does not survive reuse of the buffer (%v)", i, err)
		}
	}
}
