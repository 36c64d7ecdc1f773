package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// bigHub is the hub fixture plus n PSK spokes in a keyring and n/10
// profiles, the shape of a large PSK hub.
func bigHub(b *testing.B, n int) []byte {
	src, err := os.ReadFile("testdata/hub.cfg")
	if err != nil {
		b.Fatal(err)
	}
	var s strings.Builder
	s.Write(src)
	s.WriteString("crypto ikev2 keyring big\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, " peer s%d\n  address 198.18.%d.%d 255.255.255.255\n  identity fqdn s%d.lab.example\n  pre-shared-key key-%d\n", i, i/250, i%250+1, i, i)
	}
	for i := 0; i < n/10; i++ {
		fmt.Fprintf(&s, "crypto ikev2 profile p%d\n match identity remote fqdn domain g%d.lab.example\n authentication local pre-share\n authentication remote pre-share\n keyring local big\n virtual-template 1\n", i, i)
	}
	return []byte(s.String())
}

func BenchmarkParseHub(b *testing.B) {
	for _, n := range []int{100, 1000} {
		src := bigHub(b, n)
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				if _, d := Parse("hub.cfg", src); d.HasErrors() {
					b.Fatal(d.Err())
				}
			}
		})
	}
}

func BenchmarkLookupPeer(b *testing.B) {
	cfg, d := Parse("hub.cfg", bigHub(b, 1000))
	if d.HasErrors() {
		b.Fatal(d.Err())
	}
	kr := cfg.Keyring("big")
	id := &Identity{Type: IDFQDN, Value: "s999.lab.example"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if kr.LookupPeer(KeyQuery{Role: Responder, Identity: id}) == nil {
			b.Fatal("not found")
		}
	}
}
