package suite

import (
	"crypto/ecdh"
	"crypto/sha1"
	"io"
	"net/netip"
	"testing"
)

func sha1Sum(b []byte) []byte { s := sha1.Sum(b); return s[:] }

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func x25519FromScalar(r io.Reader) (KeyExchange, error) {
	var k [32]byte
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return nil, err
	}
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		return nil, err
	}
	return &x25519KE{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}
