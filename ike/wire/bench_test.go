package wire

import "testing"

// authResponsePlain is a typical decrypted IKE_AUTH response chain (what the
// engine decodes after opening the SK payload).
func authPlain(b testing.TB) []byte {
	pt, err := AppendPayloadChain(nil, authInner())
	if err != nil {
		b.Fatal(err)
	}
	return pt
}

func BenchmarkDecodeIKEAuth(b *testing.B) {
	msg := authRequest(b)
	pt := authPlain(b)
	var m Message
	var ps []Payload
	b.ReportAllocs()
	b.SetBytes(int64(len(msg) + len(pt)))
	for b.Loop() {
		if err := m.DecodeFrom(msg); err != nil {
			b.Fatal(err)
		}
		var err error
		if ps, err = AppendPayloads(ps[:0], PayloadIDi, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeIKESAInit(b *testing.B) {
	msg := goldenMessages(b)[0]
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := m.DecodeFrom(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeIKESAInit(b *testing.B) {
	m := initRequest()
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeaderPeekAllocs guards the demultiplexing path: the transport reads
// SPIs and the message ID of every datagram without allocating.
func TestHeaderPeekAllocs(t *testing.T) {
	msg := authRequest(t)
	var sink uint64
	n := testing.AllocsPerRun(100, func() {
		h, err := DecodeHeader(msg)
		if err != nil {
			t.Fatal(err)
		}
		v := HeaderBytes(msg)
		sink += h.SPIi + v.ResponderSPI() + uint64(v.MessageID())
	})
	if n != 0 {
		t.Fatalf("header decode allocates %v times", n)
	}
	_ = sink
}

// TestEncodeAllocs guards that encoding into a caller's buffer does not allocate.
func TestEncodeAllocs(t *testing.T) {
	m := initRequest()
	buf := make([]byte, 0, 1500)
	n := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = m.Append(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
}

// BenchmarkDecodeFresh is Decode into a new Message each time, as the engine
// does for every received datagram (captured strongSwan IKE_SA_INIT request).
func BenchmarkDecodeFresh(b *testing.B) {
	msgs, _ := readCapture(b, captureDir, "gcm")
	msg := msgs[0].raw
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}
