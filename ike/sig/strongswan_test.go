package sig

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// swanGolden is one AUTH payload strongSwan 5.9.8 produced in
// cmd/esphubctl's TestPKIStrongSwanInterop (regenerate with
// ESPHUB_CAPTURE_SWAN_AUTH=$PWD/ike/sig/testdata): the signer's
// SubjectPublicKeyInfo, the AUTH method and data, and the signed octets
// strongSwan logged.
type swanGolden struct {
	name               string
	spki, octets, auth []byte
	method             wire.AuthMethod
}

func loadSwanGolden(t testing.TB) []swanGolden {
	t.Helper()
	files, err := filepath.Glob("testdata/strongswan-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no strongSwan captures: %v", err)
	}
	var out []swanGolden
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		g := swanGolden{name: filepath.Base(f)}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ": ")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			switch k {
			case "method":
				m, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("%s: method %q", f, v)
				}
				g.method = wire.AuthMethod(m)
			case "spki", "octets", "auth":
				d, err := hex.DecodeString(v)
				if err != nil {
					t.Fatalf("%s: %s: %v", f, k, err)
				}
				switch k {
				case "spki":
					g.spki = d
				case "octets":
					g.octets = d
				case "auth":
					g.auth = d
				}
			}
		}
		out = append(out, g)
	}
	return out
}

// TestStrongSwanSignatures verifies AUTH payloads made by a real peer:
// RFC 7427 with ECDSA, RSA PKCS#1 v1.5 and RSASSA-PSS, and the classic
// methods 1, 9 and 10.
func TestStrongSwanSignatures(t *testing.T) {
	seen := map[wire.AuthMethod]bool{}
	for _, g := range loadSwanGolden(t) {
		t.Run(g.name, func(t *testing.T) {
			pub, err := x509.ParsePKIXPublicKey(g.spki)
			if err != nil {
				t.Fatal(err)
			}
			alg, err := Verify(pub, g.method, g.auth, g.octets)
			if err != nil {
				t.Fatalf("strongSwan's signature: %v", err)
			}
			seen[alg.Method] = true
			if strings.Contains(g.name, "pss") && (alg.Scheme != SchemeRSAPSS || alg.Hash != HashSHA384) {
				t.Fatalf("pss capture verified as %v", alg)
			}
			flipped := bytes.Clone(g.auth)
			flipped[len(flipped)-1] ^= 1
			if _, err := Verify(pub, g.method, flipped, g.octets); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("flipped bit: %v", err)
			}
		})
	}
	for _, m := range []wire.AuthMethod{wire.AuthRSASig, wire.AuthECDSA256, wire.AuthECDSA384, wire.AuthDigitalSignature} {
		if !seen[m] {
			t.Errorf("no strongSwan capture for method %d", m)
		}
	}
}
