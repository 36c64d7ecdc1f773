package wire

import (
	"bytes"
	"testing"
)

func TestWalkMatchesDecode(t *testing.T) {
	for i, b := range goldenMessages(t) {
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		var types []PayloadType
		if err := Walk(m.Header.NextPayload, b[HeaderLen:], func(p RawPayload) error {
			types = append(types, p.Type)
			return nil
		}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(types) != len(m.Payloads) {
			t.Fatalf("message %d: walk saw %v", i, types)
		}
		for j, p := range m.Payloads {
			if types[j] != p.Type() {
				t.Fatalf("message %d payload %d: walk %v decode %v", i, j, types[j], p.Type())
			}
		}
	}
	if err := Walk(PayloadNonce, []byte{0, 0, 0, 9, 1}, func(RawPayload) error { return nil }); err == nil {
		t.Error("overlong payload walked")
	}
}

func TestPeekNotifyCookie(t *testing.T) {
	cookie := seq(24, 0x30)
	m := initRequest()
	m.Payloads = append([]Payload{NewCookie(cookie)}, m.Payloads...)
	b := mustEncode(t, m)
	got, ok := PeekNotify(b, NotifyCookie)
	if !ok || !bytes.Equal(got, cookie) {
		t.Fatalf("PeekNotify = %x %v", got, ok)
	}
	if _, ok := PeekNotify(mustEncode(t, initRequest()), NotifyCookie); ok {
		t.Fatal("cookie found in a message without one")
	}
	if _, ok := PeekNotify(b[:len(b)-1], NotifyCookie); ok {
		t.Fatal("cookie reported from a truncated message")
	}
	n := testing.AllocsPerRun(100, func() {
		if _, ok := PeekNotify(b, NotifyCookie); !ok {
			t.Fatal("lost cookie")
		}
	})
	if n != 0 {
		t.Fatalf("PeekNotify allocates %v times", n)
	}
}

func FuzzWalk(f *testing.F) {
	for _, s := range goldenMessages(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = PeekNotify(b, NotifyCookie)
		if len(b) < HeaderLen {
			return
		}
		// Walk must accept every message Decode accepts.
		if m, err := Decode(b); err == nil {
			n := 0
			if err := Walk(m.Header.NextPayload, b[HeaderLen:], func(RawPayload) error { n++; return nil }); err != nil || n != len(m.Payloads) {
				t.Fatalf("walk %d payloads (%v), decode %d", n, err, len(m.Payloads))
			}
		}
	})
}
