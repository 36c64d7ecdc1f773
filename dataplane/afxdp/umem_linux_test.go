package afxdp

import (
	"bytes"
	"testing"
	"time"
)

func TestUMEMViews(t *testing.T) {
	u, err := NewUMEM(UMEMConfig{Frames: 16, FrameSize: 2048, Headroom: 64, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.DataOffset() != 256+64 {
		t.Fatalf("DataOffset %d", u.DataOffset())
	}
	descs := make([]Desc, 3)
	if n := u.Alloc(descs); n != 3 {
		t.Fatalf("Alloc %d", n)
	}
	d := descs[1]
	if u.Headroom(d) != 320 || u.Tailroom(d) != 2048-320 || len(u.Data(d)) != 0 {
		t.Fatalf("fresh frame: headroom %d tailroom %d len %d", u.Headroom(d), u.Tailroom(d), len(u.Data(d)))
	}
	// Write a payload, then encapsulate: 36 header bytes in front, 18
	// trailer bytes behind, without moving the payload.
	if !u.Adjust(&d, 0, 100) {
		t.Fatal("grow tail refused")
	}
	payload := bytes.Repeat([]byte{0xab}, 100)
	copy(u.Data(d), payload)
	if !u.Adjust(&d, 36, 18) {
		t.Fatal("encapsulation refused")
	}
	b := u.Data(d)
	if len(b) != 154 || !bytes.Equal(b[36:136], payload) || u.Headroom(d) != 320-36 {
		t.Fatalf("after encap: len %d headroom %d", len(b), u.Headroom(d))
	}
	// Decapsulate again.
	if !u.Adjust(&d, -36, -18) || !bytes.Equal(u.Data(d), payload) {
		t.Fatal("decapsulation")
	}
	// The view cannot grow past the frame; Adjust refuses to leave it.
	if cap(u.Data(d)) != 2048-320 {
		t.Errorf("view capacity %d reaches beyond the frame", cap(u.Data(d)))
	}
	for _, c := range []struct{ head, tail int }{{321, 0}, {0, 2048 - 320 - 100 + 1}, {-101, 0}, {0, -101}} {
		e := d
		if u.Adjust(&e, c.head, c.tail) || e != d {
			t.Errorf("Adjust(%d, %d) accepted or changed the desc", c.head, c.tail)
		}
	}
	// Frame and SetFrameData round-trip a packet rewritten in place.
	frame, off := u.Frame(d)
	if len(frame) != 2048 || off != 320 || !bytes.Equal(frame[off:off+int(d.Len)], payload) {
		t.Fatalf("Frame: len %d off %d", len(frame), off)
	}
	copy(frame[off-8:], "ENCAPHDR")
	e := d
	if !u.SetFrameData(&e, off-8, int(d.Len)+8) || string(u.Data(e)[:8]) != "ENCAPHDR" || u.pool.Base(e.Addr) != u.pool.Base(d.Addr) {
		t.Fatalf("SetFrameData: %+v", e)
	}
	for _, c := range []struct{ off, n int }{{-1, 10}, {0, 2049}, {2000, 49}, {5, -1}} {
		f := d
		if u.SetFrameData(&f, c.off, c.n) || f != d {
			t.Errorf("SetFrameData(%d, %d) accepted", c.off, c.n)
		}
	}
	u.Release(descs)
	if c := u.Pool().Counts(); c.Free != 16 {
		t.Fatalf("counts %+v", c)
	}
	// Debug mode poisons released frames.
	if b := u.mem[descs[1].Addr : descs[1].Addr+16]; !bytes.Equal(b, bytes.Repeat([]byte{PoisonByte}, 16)) {
		t.Errorf("released frame not poisoned: % x", b)
	}
	if _, err := NewUMEM(UMEMConfig{FrameSize: 2048, Headroom: 1800}); err == nil {
		t.Error("headroom larger than the frame accepted")
	}
}

// Example of a worker forwarding between two interfaces through one UMEM.
func ExampleUMEM_Open() {
	u, err := NewUMEM(UMEMConfig{Frames: 8192})
	if err != nil {
		return
	}
	defer u.Close()
	wan, err := u.Open(SocketConfig{Ifindex: 2, Queue: 0}) // registers the UMEM
	if err != nil {
		return
	}
	lan, err := u.Open(SocketConfig{Ifindex: 3, Queue: 0}) // XDP_SHARED_UMEM
	if err != nil {
		return
	}
	// Register wan.FD() and lan.FD() with bpf.Steering.RegisterSocket here.
	p := NewPoller(wan, lan)
	descs := make([]Desc, 64)
	for {
		n := wan.Receive(descs)
		if n == 0 {
			lan.Flush()
			p.Wait(10 * time.Millisecond)
			continue
		}
		// ... decrypt, rewrite headers in u.Data(descs[i]) ...
		sent := lan.Transmit(descs[:n])
		u.Release(descs[sent:n]) // TX ring full: drop the rest
	}
}
