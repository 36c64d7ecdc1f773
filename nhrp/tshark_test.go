package nhrp

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/nhrp/wire"
)

// TestTsharkReadsLabTraffic captures every NHRP packet of the three-spoke
// scenario (NAT, IPv4 and IPv6 overlays) inside IPv4/GRE and has tshark's
// dissector read them: none may be malformed, every checksum must verify,
// and the packet types must be what we sent.
func TestTsharkReadsLabTraffic(t *testing.T) {
	testenv.NeedCommands(t, "tshark")
	var pkts [][]byte
	for _, o := range []labOpts{
		{hold: 600 * time.Second, nat: map[int]int{1: 1, 2: 2}},
		{hold: 600 * time.Second, v6: true},
	} {
		l := newLab(t, 3, o)
		shortcutUp(t, l, 1, 2)
		shortcutUp(t, l, 3, 2)
		l.advance(500 * time.Second) // refreshes
		for _, s := range l.sent {
			pkts = append(pkts, s.pkt)
		}
	}
	var pcap bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101) // LINKTYPE_RAW
	pcap.Write(hdr)
	var want []string
	for _, nhrp := range pkts {
		ip := make([]byte, 24, 24+len(nhrp))
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(24+len(nhrp)))
		ip[8], ip[9] = 64, 47
		copy(ip[12:], []byte{198, 18, 0, 1})
		copy(ip[16:], []byte{198, 18, 1, 1})
		binary.BigEndian.PutUint16(ip[10:], wire.Checksum(ip[:20]))
		binary.BigEndian.PutUint16(ip[22:], wire.GREProtocol)
		ip = append(ip, nhrp...)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(ip)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(ip)))
		pcap.Write(rec)
		pcap.Write(ip)
		want = append(want, itoa(int(wire.Header(nhrp).Type())))
	}
	file := filepath.Join(t.TempDir(), "lab.pcap")
	if err := os.WriteFile(file, pcap.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", file, "-T", "fields", "-E", "separator=|",
		"-e", "nhrp.hdr.op.type", "-e", "nhrp.hdr.chksum.status", "-e", "_ws.malformed", "-e", "_ws.expert").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(pkts) || len(pkts) < 10 {
		t.Fatalf("tshark read %d packets of %d", len(lines), len(pkts))
	}
	for i, line := range lines {
		f := strings.Split(line, "|")
		if strings.Split(f[0], ",")[0] != want[i] || strings.Split(f[1], ",")[0] != "1" || f[2] != "" || (f[3] != "" && !strings.Contains(f[3], "(Chat/")) {
			t.Errorf("packet %d (type %s): tshark says %q", i, want[i], line)
		}
	}
}

func itoa(v int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
