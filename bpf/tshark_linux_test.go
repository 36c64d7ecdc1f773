package bpf

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esphub/esphub/internal/testenv"
)

// writePcap writes Ethernet frames as a classic pcap file.
func writePcap(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	var b bytes.Buffer
	hdr := []uint32{0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1} // magic, v2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET
	binary.Write(&b, binary.LittleEndian, hdr[0])
	binary.Write(&b, binary.LittleEndian, uint16(2))
	binary.Write(&b, binary.LittleEndian, uint16(4))
	for _, v := range hdr[2:] {
		binary.Write(&b, binary.LittleEndian, v)
	}
	for i, f := range frames {
		for _, v := range []uint32{uint32(i), 0, uint32(len(f)), uint32(len(f))} {
			binary.Write(&b, binary.LittleEndian, v)
		}
		b.Write(f)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenFramesAgainstTshark uses tshark as an independent oracle: its
// dissection of every golden WAN frame must agree with the verdict (ESP
// frames dissect as ESP, ESP-in-UDP as UDP-encapsulated ESP, IKE as ISAKMP,
// keepalives as NAT-keepalives).
func TestGoldenFramesAgainstTshark(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	var frames [][]byte
	var golden []golden
	for _, g := range wanGolden() {
		switch g.want {
		case ESP, ESPInUDP, PassIKE, PassKeepalive:
			frames = append(frames, g.frame)
			golden = append(golden, g)
		}
	}
	path := filepath.Join(t.TempDir(), "wan-golden.pcap")
	writePcap(t, path, frames)
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.protocols",
		"-d", "udp.port==4500,udpencap").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(golden) {
		t.Fatalf("tshark printed %d lines for %d frames:\n%s", len(lines), len(golden), out)
	}
	for i, g := range golden {
		protos := ":" + strings.TrimSpace(lines[i]) + ":"
		var ok bool
		switch g.want {
		case ESP:
			ok = strings.Contains(protos, ":esp:") && !strings.Contains(protos, ":udp:")
		case ESPInUDP:
			ok = strings.Contains(protos, ":udp:udpencap:esp:")
		case PassIKE:
			ok = strings.Contains(protos, ":isakmp:")
		case PassKeepalive:
			ok = strings.Contains(protos, ":udpencap:") && !strings.Contains(protos, ":esp:")
		}
		if !ok {
			t.Errorf("%s: verdict %v but tshark dissects %s", g.name, g.want, protos)
		}
	}
}
