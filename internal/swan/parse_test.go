package swan

import (
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseListSAs reads a real swanctl --list-sas --pretty listing
// (strongSwan 5.9.8, aes128-sha256-modp2048, initiator side).
func TestParseListSAs(t *testing.T) {
	sas, err := ParseListSAs(string(readTestdata(t, "listsas.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if len(sas) != 1 {
		t.Fatalf("%d IKE SAs, want 1", len(sas))
	}
	sa := sas[0]
	want := IKESA{Name: "a-b", UniqueID: 1, State: "ESTABLISHED", LocalHost: netip.MustParseAddr("198.18.0.1"),
		RemoteHost: netip.MustParseAddr("198.18.0.2"), LocalPort: 4500, RemotePort: 4500, LocalID: "a.test",
		RemoteID: "b.test", Initiator: true, SPIi: 0x13b000a7e3911ff8, SPIr: 0x657128bc76f16e70, NATRemote: true,
		EncrAlg: "AES_CBC", EncrKeySize: 128, IntegAlg: "HMAC_SHA2_256_128", PRFAlg: "PRF_HMAC_SHA2_256", DHGroup: "MODP_2048"}
	got := sa
	got.Children, got.Fields = nil, nil
	if got.Name != want.Name || got.UniqueID != want.UniqueID || got.State != want.State || got.LocalHost != want.LocalHost ||
		got.RemoteHost != want.RemoteHost || got.LocalPort != want.LocalPort || got.RemotePort != want.RemotePort ||
		got.LocalID != want.LocalID || got.RemoteID != want.RemoteID || got.Initiator != want.Initiator ||
		got.SPIi != want.SPIi || got.SPIr != want.SPIr || got.NATRemote != want.NATRemote || got.NATLocal ||
		got.EncrAlg != want.EncrAlg || got.EncrKeySize != want.EncrKeySize || got.IntegAlg != want.IntegAlg ||
		got.PRFAlg != want.PRFAlg || got.DHGroup != want.DHGroup {
		t.Errorf("IKE SA\n got %+v\nwant %+v", got, want)
	}
	c, ok := sa.Child("net", "INSTALLED")
	if !ok {
		t.Fatal("no INSTALLED child net")
	}
	if inst := sa.Installed(); len(inst) != 1 || inst[0].SPIIn != c.SPIIn {
		t.Errorf("Installed() = %+v", inst)
	}
	if c.SPIIn != 0xc6882cc8 || c.SPIOut != 0xdb6f7b0d || !c.Encap || c.Mode != "TUNNEL" || c.PacketsIn != 3 || c.BytesOut != 252 ||
		c.EncrAlg != "AES_CBC" || c.IntegAlg != "HMAC_SHA2_256_128" || strings.Join(c.LocalTS, ",") != "198.19.1.1/32" ||
		strings.Join(c.RemoteTS, ",") != "198.19.2.1/32" || c.Fields["rekey-time"] != "3375" {
		t.Errorf("child %+v", c)
	}
	for _, bad := range []string{"a {\n", "}\n", "a {\n  x\n}\n", "x = 1\n", "a {\n  l = [\n"} {
		if _, err := ParseListSAs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestParseKeys reads the initiator's log of the same handshake.
func TestParseKeys(t *testing.T) {
	k := ParseKeys(readTestdata(t, "charon.log"))
	if len(k.IKE) != 1 || len(k.Child) != 1 {
		t.Fatalf("%d IKE and %d child key sets, want 1 each", len(k.IKE), len(k.Child))
	}
	ike := k.IKE[0]
	if ike.SPIi != 0x13b000a7e3911ff8 || ike.SPIr != 0x657128bc76f16e70 {
		t.Errorf("IKE SPIs %016x/%016x, want those swanctl listed", ike.SPIi, ike.SPIr)
	}
	if _, ok := k.IKEBySPI(0x13b000a7e3911ff8, 0x657128bc76f16e70); !ok {
		t.Error("IKEBySPI found nothing")
	}
	if !ike.Initiator || len(ike.SharedSecret) != 256 || len(ike.SKEYSEED) != 32 || len(ike.SKd) != 32 ||
		len(ike.SKai) != 32 || len(ike.SKar) != 32 || len(ike.SKei) != 16 || len(ike.SKer) != 16 || len(ike.SKpi) != 32 || len(ike.SKpr) != 32 {
		t.Errorf("IKE keys have wrong lengths: %+v", ike)
	}
	c, ok := k.ChildBySPI(0xdb6f7b0d)
	if !ok || c.SPIIn != 0xc6882cc8 || !c.Initiator || len(c.Seed) != 64 || len(c.EncrI) != 16 || len(c.IntegI) != 32 ||
		len(c.EncrR) != 16 || len(c.IntegR) != 32 {
		t.Fatalf("child keys %+v", c)
	}
	if e, _ := c.Outbound(); hex.EncodeToString(e) != hex.EncodeToString(c.EncrI) {
		t.Error("initiator's outbound key is not the initiator key")
	}
	if e, _ := c.Inbound(); hex.EncodeToString(e) != hex.EncodeToString(c.EncrR) {
		t.Error("initiator's inbound key is not the responder key")
	}
}

// TestParseKeysInterleaved: dumps of two threads interleave line by line.
func TestParseKeysInterleaved(t *testing.T) {
	log := strings.Join([]string{
		"10:00:00 05[ENC] parsed IKE_SA_INIT request 0 [ SA KE No ]",
		"10:00:00 07[ENC] parsed IKE_SA_INIT response 0 [ SA KE No ]",
		"10:00:00 05[IKE] SKEYSEED => 20 bytes @ 0x1",
		"10:00:00 07[IKE] SKEYSEED => 2 bytes @ 0x2",
		"10:00:00 05[IKE]    0: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F  ................",
		"10:00:00 07[IKE]    0: AA BB                                            ..",
		"10:00:00 05[IKE]   16: 10 11 12 13                                      ....",
	}, "\n")
	k := ParseKeys([]byte(log))
	if len(k.Dumps) != 2 {
		t.Fatalf("%d dumps: %+v", len(k.Dumps), k.Dumps)
	}
	if hex.EncodeToString(k.Dumps[0].Data) != "aabb" || k.Dumps[0].Thread != 7 {
		t.Errorf("thread 7 dump %+v", k.Dumps[0])
	}
	if hex.EncodeToString(k.Dumps[1].Data) != "000102030405060708090a0b0c0d0e0f10111213" {
		t.Errorf("thread 5 dump %x", k.Dumps[1].Data)
	}
}

func FuzzParseListSAs(f *testing.F) {
	f.Add(string(readTestdata(f, "listsas.txt")))
	f.Add("a {\n b = [\n c\n ]\n}\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseListSAs(s)
	})
}

func FuzzParseKeys(f *testing.F) {
	log := readTestdata(f, "charon.log")
	f.Add(log[:min(len(log), 6000)])
	f.Add([]byte("10:00:00 07[IKE] SKEYSEED => 2 bytes @ 0x2\n10:00:00 07[IKE]    0: AA BB  ..\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseKeys(b)
	})
}
