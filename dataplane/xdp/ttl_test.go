package xdp

import (
	"testing"

	"github.com/esphub/esphub/dataplane/hdr"
)

// TestDecTTLChecksum checks the incremental checksum update against a full
// recomputation for every TTL and a spread of header contents.
func TestDecTTLChecksum(t *testing.T) {
	for ttl := 0; ttl < 256; ttl++ {
		for _, seed := range []byte{0, 0x5a, 0xff} {
			b := make([]byte, 28)
			for i := range b {
				b[i] = seed ^ byte(i*37)
			}
			b[0], b[2], b[3], b[8] = 0x45, 0, 28, byte(ttl)
			hdr.IPv4(b).UpdateChecksum()
			ok := decTTL(b)
			if ok != (ttl > 1) {
				t.Fatalf("ttl %d: expired=%v", ttl, !ok)
			}
			if !ok {
				continue
			}
			if b[8] != byte(ttl-1) || !hdr.IPv4(b).ChecksumValid() {
				t.Fatalf("ttl %d seed %#x: ttl %d, checksum valid %v", ttl, seed, b[8], hdr.IPv4(b).ChecksumValid())
			}
		}
	}
	v6 := make([]byte, hdr.IPv6Len)
	v6[0], v6[7] = 0x60, 2
	if !decTTL(v6) || v6[7] != 1 || decTTL(v6) {
		t.Fatalf("IPv6 hop limit %d", v6[7])
	}
}

// TestIncTTLUndoesDec checks that incTTL restores exactly the header decTTL
// changed, checksum included, and saturates at 255.
func TestIncTTLUndoesDec(t *testing.T) {
	for ttl := 2; ttl < 256; ttl++ {
		b := make([]byte, 28)
		for i := range b {
			b[i] = byte(i*53) ^ byte(ttl)
		}
		b[0], b[2], b[3], b[8] = 0x45, 0, 28, byte(ttl)
		hdr.IPv4(b).UpdateChecksum()
		orig := string(b)
		if !decTTL(b) {
			t.Fatalf("ttl %d expired", ttl)
		}
		incTTL(b)
		if string(b) != orig || !hdr.IPv4(b).ChecksumValid() {
			t.Fatalf("ttl %d: header after dec+inc differs (ttl %d, checksum valid %v)", ttl, b[8], hdr.IPv4(b).ChecksumValid())
		}
	}
	b := make([]byte, 28)
	b[0], b[2], b[3], b[8] = 0x45, 0, 28, 255
	hdr.IPv4(b).UpdateChecksum()
	incTTL(b)
	if b[8] != 255 || !hdr.IPv4(b).ChecksumValid() {
		t.Fatalf("ttl 255: got %d, checksum valid %v", b[8], hdr.IPv4(b).ChecksumValid())
	}
	v6 := make([]byte, hdr.IPv6Len)
	v6[0], v6[7] = 0x60, 7
	incTTL(v6)
	if v6[7] != 8 {
		t.Fatalf("IPv6 hop limit %d", v6[7])
	}
}
