package suite

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

// swanRecord is a handshake between two strongSwan 5.9 instances, captured
// by internal/swan's TestStrongSwanInterop with SWAN_RECORD_DIR set: the
// keys charon logged (ike = 4, chd = 4) and the IKE_AUTH messages tcpdump saw.
type swanRecord struct {
	IKE                                              string
	Encr                                             wire.EncrID
	KeyBits                                          int
	Integ                                            wire.IntegID
	PRF                                              wire.PRFID
	DH                                               wire.DHGroup
	ESPEncr                                          wire.EncrID
	ESPKeyBits                                       int
	ESPInteg                                         wire.IntegID
	SPIi, SPIr                                       string
	Ni, Nr, SharedSecret, SKEYSEED                   string
	SKd, SKai, SKar, SKei, SKer, SKpi, SKpr          string
	ChildEncrI, ChildIntegI, ChildEncrR, ChildIntegR string
	PSK, AuthOctets, Auth                            string
	IKEAuthRequest, IKEAuthResponse                  string
}

// TestStrongSwanKnownAnswers recomputes, from the inputs strongSwan logged,
// every key it derived, its AUTH payload, and decrypts the IKE_AUTH
// messages it sent.
func TestStrongSwanKnownAnswers(t *testing.T) {
	files, _ := filepath.Glob("testdata/strongswan-*.json")
	if len(files) < 9 {
		t.Fatalf("found %d strongSwan records, want 9", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r swanRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		t.Run(r.IKE, func(t *testing.T) {
			p := Proposal{Encr: r.Encr, KeyBits: r.KeyBits, Integ: r.Integ, PRF: r.PRF, DH: r.DH}
			spii, _ := strconv.ParseUint(r.SPIi, 16, 64)
			spir, _ := strconv.ParseUint(r.SPIr, 16, 64)
			ni, nr := unhex(t, r.Ni), unhex(t, r.Nr)
			seed, _ := SKEYSEED(p, ni, nr, unhex(t, r.SharedSecret))
			if hex.EncodeToString(seed) != r.SKEYSEED {
				t.Errorf("SKEYSEED %x, strongSwan %s", seed, r.SKEYSEED)
			}
			k, err := DeriveIKEKeys(p, ni, nr, unhex(t, r.SharedSecret), spii, spir)
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range []struct {
				name string
				ours []byte
				want string
			}{{"SK_d", k.SKd, r.SKd}, {"SK_ai", k.SKai, r.SKai}, {"SK_ar", k.SKar, r.SKar}, {"SK_ei", k.SKei, r.SKei},
				{"SK_er", k.SKer, r.SKer}, {"SK_pi", k.SKpi, r.SKpi}, {"SK_pr", k.SKpr, r.SKpr}} {
				if hex.EncodeToString(kv.ours) != kv.want {
					t.Errorf("%s = %x, strongSwan %s", kv.name, kv.ours, kv.want)
				}
			}
			prf, _ := NewPRF(r.PRF)
			ck, err := DeriveChildKeys(prf, k.SKd, nil, ni, nr, Proposal{Encr: r.ESPEncr, KeyBits: r.ESPKeyBits, Integ: r.ESPInteg})
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(ck.EncrI) != r.ChildEncrI || hex.EncodeToString(ck.IntegI) != r.ChildIntegI ||
				hex.EncodeToString(ck.EncrR) != r.ChildEncrR || hex.EncodeToString(ck.IntegR) != r.ChildIntegR {
				t.Errorf("child keys differ from strongSwan's")
			}
			octets := unhex(t, r.AuthOctets)
			if got := PSKAuth(prf, []byte(r.PSK), octets); hex.EncodeToString(got) != r.Auth {
				t.Errorf("AUTH %x, strongSwan %s", got, r.Auth)
			}
			// Open both IKE_AUTH messages; rebuild the initiator's signed
			// octets from the decrypted IDi payload.
			for _, m := range []struct {
				name       string
				msg        []byte
				enc, integ []byte
			}{{"request", unhex(t, r.IKEAuthRequest), k.SKei, k.SKai}, {"response", unhex(t, r.IKEAuthResponse), k.SKer, k.SKar}} {
				c, err := NewSKCipher(p, m.enc, m.integ)
				if err != nil {
					t.Fatal(err)
				}
				aad, body := m.msg[:32], m.msg[32:]
				pt, err := c.Open(nil, aad, body)
				if err != nil {
					t.Fatalf("IKE_AUTH %s: %v", m.name, err)
				}
				if m.msg[16] != byte(wire.PayloadSK) || len(pt) < 8 {
					t.Fatalf("IKE_AUTH %s: not an SK payload", m.name)
				}
				if m.name == "request" {
					if m.msg[28] != byte(wire.PayloadIDi) {
						t.Fatalf("first inner payload %d, want IDi", m.msg[28])
					}
					idLen := int(binary.BigEndian.Uint16(pt[2:4]))
					idBody := pt[4:idLen]
					message := octets[:len(octets)-len(nr)-prf.Size()]
					if got := SignedOctets(prf, k.SKpi, message, nr, idBody); !bytes.Equal(got, octets) {
						t.Errorf("SignedOctets differ from strongSwan's")
					}
				}
				// Flip one ciphertext bit: Open must refuse.
				bad := bytes.Clone(body)
				bad[len(bad)/2] ^= 1
				if _, err := c.Open(nil, aad, bad); err == nil {
					t.Errorf("IKE_AUTH %s: tampered message accepted", m.name)
				}
			}
		})
	}
}
