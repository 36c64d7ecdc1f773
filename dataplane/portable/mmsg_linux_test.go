package portable

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSockaddrRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		ap    string
		inet6 bool
		want  string
		size  uint32
	}{
		{"198.18.0.1:4500", false, "198.18.0.1:4500", unix.SizeofSockaddrInet4},
		{"198.18.0.1:4501", true, "198.18.0.1:4501", unix.SizeofSockaddrInet6}, // v4-mapped on a dual-stack socket
		{"[2001:db8::7]:65535", true, "[2001:db8::7]:65535", unix.SizeofSockaddrInet6},
	} {
		var rsa unix.RawSockaddrInet6
		n := putSockaddr(&rsa, tc.inet6, netip.MustParseAddrPort(tc.ap))
		if n != tc.size {
			t.Errorf("%s: length %d, want %d", tc.ap, n, tc.size)
		}
		if got := getSockaddr(&rsa).String(); got != tc.want {
			t.Errorf("%s: round trip %s", tc.ap, got)
		}
	}
	if getSockaddr(&unix.RawSockaddrInet6{Family: unix.AF_UNIX}).IsValid() {
		t.Error("unknown family accepted")
	}
}
