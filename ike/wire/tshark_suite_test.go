package wire_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/testenv"
)

// TestTsharkDecryptsOurSK gives tshark the keys of IKE_AUTH messages we
// sealed with the ike/suite ciphers (AES-GCM per RFC 5282 and AES-CBC with
// HMAC-SHA2-256-128) and checks that Wireshark's own IKEv2 decryption finds
// the inner payloads: an oracle independent of our Open for the AAD, IV,
// padding and ICV layout of the SK payload, and of AppendFragments for SKF
// (RFC 7383: each fragment sealed on its own, AAD through Total Fragments).
func TestTsharkDecryptsOurSK(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	key := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	type tc struct {
		name        string
		p           suite.Proposal
		ei, ai      []byte
		encr, integ string
	}
	cases := []tc{
		{"aes256gcm16", suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256}, key(36), nil,
			"AES-GCM-256 with 16 octet ICV [RFC5282]", "NONE [RFC4306]"},
		{"aes128-sha256", suite.Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256}, key(16), key(32),
			"AES-CBC-128 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]"},
	}
	dir := t.TempDir()
	var msgs, fragMsgs [][]byte
	var table strings.Builder
	for i, c := range cases {
		sk, err := suite.NewSKCipher(c.p, c.ei, c.ai)
		if err != nil {
			t.Fatal(err)
		}
		h := wire.Header{SPIi: uint64(0x1100 + i), SPIr: uint64(0x2200 + i), Exchange: wire.ExchangeIKEAuth, Flags: wire.FlagInitiator, MessageID: 1}
		fqdn := "spoke-" + c.name + ".example"
		b, err := wire.AppendProtected(nil, h, nil, []wire.Payload{
			&wire.ID{IDType: wire.IDFQDN, Data: []byte(fqdn)},
			&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{9}, 32)},
			&wire.TrafficSelectors{Selectors: []wire.TrafficSelector{wire.TSAny(false)}},
			&wire.TrafficSelectors{Responder: true, Selectors: []wire.TrafficSelector{wire.TSFromPrefix(netip.MustParsePrefix("198.18.0.0/15"))}},
		}, sk, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
		// SK_er and SK_ar are never used (all messages are the initiator's) but tshark wants them.
		fmt.Fprintf(&table, "%016x,%016x,%s,%s,\"%s\",%s,%s,\"%s\"\n", h.SPIi, h.SPIr,
			hex.EncodeToString(c.ei), hex.EncodeToString(key(len(c.ei))), c.encr,
			hex.EncodeToString(c.ai), hex.EncodeToString(key(len(c.ai))), c.integ)
	}
	prof := filepath.Join(dir, ".config", "wireshark")
	if err := os.MkdirAll(prof, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prof, "ikev2_decryption_table"), []byte(table.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The CBC case once more, split into RFC 7383 fragments.
	{
		c := cases[1]
		sk, _ := suite.NewSKCipher(c.p, c.ei, c.ai)
		h := wire.Header{SPIi: 0x1101, SPIr: 0x2201, Exchange: wire.ExchangeIKEAuth, Flags: wire.FlagInitiator, MessageID: 2}
		frags, err := wire.AppendFragments(h, []wire.Payload{
			&wire.ID{IDType: wire.IDFQDN, Data: []byte("fragmented.example")},
			&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: bytes.Repeat([]byte{9}, 32)},
		}, sk, rand.Reader, 100)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d fragments", len(frags))
		fragMsgs = frags
	}
	// Negative controls: the same messages with one ICV bit flipped.
	for _, m := range msgs[:len(cases)] {
		bad := append([]byte(nil), m...)
		bad[len(bad)-1] ^= 1
		msgs = append(msgs, bad)
	}
	msgs = append(msgs, fragMsgs...)
	pcap := filepath.Join(dir, "sk.pcap")
	wire.WritePcapForTest(t, pcap, msgs)
	cmd := exec.Command("tshark", "-r", pcap, "-n", "-d", "udp.port==500,isakmp", "-T", "fields",
		"-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "isakmp.id.data.fqdn", "-e", "isakmp.ts.start_ipv4", "-e", "_ws.expert.message", "-e", "isakmp.ikev2.integrity_checksum")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 2*len(cases)+len(fragMsgs) {
		t.Fatalf("tshark printed %d lines:\n%s", len(lines), out)
	}
	for i, c := range cases {
		f := strings.Split(lines[i], "|")
		if f[0] != "spoke-"+c.name+".example" || f[1] != "0.0.0.0,198.18.0.0" {
			t.Errorf("%s: tshark did not decrypt our SK payload: %q", c.name, lines[i])
		}
		if f[2] != "" {
			t.Errorf("%s: tshark expert info %q on our message", c.name, f[2])
		}
		// The tampered copy proves tshark checks the ICV at all.
		if bad := lines[len(cases)+i]; !strings.Contains(bad, "Integrity Checksum Data is incorrect") {
			t.Errorf("%s: tshark accepted a flipped ICV bit: %q", c.name, bad)
		}
	}
	// Each fragment verifies on its own; tshark reassembles them and finds
	// the IDi in the last one.
	for i, line := range lines[2*len(cases):] {
		f := strings.Split(line, "|")
		if f[2] != "" {
			t.Errorf("fragment %d: tshark expert info %q", i+1, f[2])
		}
		if last := i == len(fragMsgs)-1; last != (f[0] == "fragmented.example") {
			t.Errorf("fragment %d: reassembled IDi %q", i+1, f[0])
		}
	}
}
