package ike

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// The strongSwan interop harness: one charon (kernel-libipsec) in a lab
// namespace, driven with swanctl; see shared/docs/strongswan-peer.md.

const charonBin = "/usr/lib/ipsec/charon"

// interopSpec: our engine in "ours", strongSwan in "swan", one link.
const interopSpec = `
prefix: ikei
description: esphub IKE engine against strongSwan
nodes:
  ours:
    lo: [198.19.1.1/32]
  swan:
    lo: [198.19.2.1/32]
links:
  - a: {node: ours, iface: wan, addr: [198.18.0.1/24]}
    b: {node: swan, iface: wan, addr: [198.18.0.2/24]}
`

var (
	oursAddr = netip.MustParseAddr("198.18.0.1")
	swanAddr = netip.MustParseAddr("198.18.0.2")
	oursID   = IdentityFQDN("ours.test")
	swanID   = IdentityFQDN("swan.test")
	swanPSK  = "interop-test-psk-0123456789"
)

type swan struct {
	t    *testing.T
	lab  *lab.Lab
	dir  string
	cmd  *exec.Cmd
	uri  string
	conf string
}

type swanOpts struct {
	ike, esp string // strongSwan proposal strings
	remote   string // strongSwan's remote_addrs (default: our address)
	nat      bool   // our engine sits behind the lab's NAT box
	rekeyIKE string // e.g. "0" to disable (default 4h)
	rekeyCHD string
	dpdDelay string
}

func startSwan(t *testing.T, l *lab.Lab, o swanOpts) *swan {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &swan{t: t, lab: l, dir: dir, uri: "unix://" + dir + "/charon.vici", conf: filepath.Join(dir, "strongswan.conf")}
	strongswanConf := fmt.Sprintf(`charon {
    load_modular = no
    load = random nonce openssl pem pkcs1 x509 pubkey revocation constraints kdf gmp curve25519 aes gcm sha1 sha2 hmac kernel-libipsec kernel-netlink socket-default vici updown
    install_routes = no
    install_virtual_ip = no
    retransmit_tries = 3
    retransmit_timeout = 1.0
    filelog {
        peer {
            path = %[1]s/charon.log
            time_format = %%H:%%M:%%S
            append = no
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
            chd = 4
            knl = 1
            net = 2
        }
    }
    plugins {
        vici {
            socket = unix://%[1]s/charon.vici
        }
    }
}
swanctl {
    load = pem pkcs1 x509 revocation constraints pubkey openssl random
}
`, dir)
	rekeyIKE, rekeyCHD, dpd := o.rekeyIKE, o.rekeyCHD, o.dpdDelay
	if rekeyIKE == "" {
		rekeyIKE = "0"
	}
	if rekeyCHD == "" {
		rekeyCHD = "0"
	}
	if dpd == "" {
		dpd = "0"
	}
	remote := o.remote
	if remote == "" {
		remote = oursAddr.String()
	}
	swanctlConf := fmt.Sprintf(`connections {
    ours {
        version = 2
        local_addrs  = %s
        remote_addrs = %s
        proposals = %s
        rekey_time = %s
        dpd_delay = %s
        local {
            auth = psk
            id = swan.test
        }
        remote {
            auth = psk
            id = ours.test
        }
        children {
            net {
                local_ts  = 198.19.2.1/32
                remote_ts = 198.19.1.1/32
                esp_proposals = %s
                mode = tunnel
                start_action = none
                rekey_time = %s
            }
        }
    }
}
secrets {
    ike-ours {
        id-a = swan.test
        id-b = ours.test
        secret = "%s"
    }
}
`, swanAddr, remote, o.ike, rekeyIKE, dpd, o.esp, rekeyCHD, swanPSK)
	if err := os.WriteFile(s.conf, []byte(strongswanConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(swanctlConf), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "charon.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command("ip", "netns", "exec", l.Netns("swan"), "sh", "-c",
		fmt.Sprintf("mount --bind %s/run /run && STRONGSWAN_CONF=%s exec %s", dir, s.conf, charonBin))
	s.cmd.Stdout, s.cmd.Stderr = stderr, stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start charon: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "charon.log")); err == nil {
				t.Logf("charon.log:\n%s", tail(string(b), 80))
			}
		}
	})
	waitFor(t, "charon's vici socket", func() bool {
		_, err := os.Stat(filepath.Join(dir, "charon.vici"))
		return err == nil
	})
	s.swanctl("--load-conns", "--file", filepath.Join(dir, "swanctl.conf"))
	s.swanctl("--load-creds", "--noprompt", "--file", filepath.Join(dir, "swanctl.conf"))
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// swanctl runs swanctl against this charon and returns its output.
func (s *swan) swanctl(args ...string) string {
	s.t.Helper()
	out, err := s.swanctlErr(args...)
	if err != nil {
		s.t.Fatalf("swanctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *swan) swanctlErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "swanctl", append(args, "--uri", s.uri)...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+s.conf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// swanSA is strongSwan's view of one IKE SA from swanctl --list-sas.
type swanSA struct {
	state      string
	spiI, spiR string
	localPort  string
	children   []swanChild
}

type swanChild struct {
	state, mode string
	in, out     string // SPIs, hex
}

var (
	reIKE   = regexp.MustCompile(`^ours: #\d+, (\w+), IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r`)
	reLocal = regexp.MustCompile(`^\s+local\s+'[^']*' @ [0-9.]+\[(\d+)\]`)
	reChild = regexp.MustCompile(`^\s+net: #\d+, reqid \d+, (\w+), ([\w-]+),`)
	reIn    = regexp.MustCompile(`^\s+in\s+([0-9a-f]{8})`)
	reOut   = regexp.MustCompile(`^\s+out\s+([0-9a-f]{8})`)
)

func (s *swan) listSAs() []swanSA {
	out := s.swanctl("--list-sas")
	var sas []swanSA
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if m := reIKE.FindStringSubmatch(l); m != nil {
			sas = append(sas, swanSA{state: m[1], spiI: m[2], spiR: m[3]})
			continue
		}
		if len(sas) == 0 {
			continue
		}
		cur := &sas[len(sas)-1]
		switch {
		case reChild.MatchString(l):
			m := reChild.FindStringSubmatch(l)
			cur.children = append(cur.children, swanChild{state: m[1], mode: m[2]})
		case reLocal.MatchString(l) && cur.localPort == "":
			cur.localPort = reLocal.FindStringSubmatch(l)[1]
		case reIn.MatchString(l) && len(cur.children) > 0:
			cur.children[len(cur.children)-1].in = reIn.FindStringSubmatch(l)[1]
		case reOut.MatchString(l) && len(cur.children) > 0:
			cur.children[len(cur.children)-1].out = reOut.FindStringSubmatch(l)[1]
		}
	}
	return sas
}

// loggedKeys returns every Child SA key charon logged (chd = 4), as hex.
func (s *swan) loggedKeys() map[string]bool {
	b, err := os.ReadFile(filepath.Join(s.dir, "charon.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	keys := map[string]bool{}
	lines := strings.Split(string(b), "\n")
	head := regexp.MustCompile(`(encryption|integrity) (initiator|responder) key => (\d+) bytes`)
	row := regexp.MustCompile(`^\S*\s*\d+: ((?:[0-9A-F]{2} ){1,16})`)
	for i := 0; i < len(lines); i++ {
		if !head.MatchString(lines[i]) {
			continue
		}
		var hx strings.Builder
		for j := i + 1; j < len(lines); j++ {
			m := row.FindStringSubmatch(strings.TrimPrefix(lines[j], lines[j][:strings.Index(lines[j], " ")+1]))
			if m == nil {
				m = row.FindStringSubmatch(lines[j])
			}
			if m == nil {
				break
			}
			hx.WriteString(strings.ReplaceAll(m[1], " ", ""))
		}
		keys[strings.ToLower(hx.String())] = true
	}
	return keys
}

// interopNATSpec puts our engine behind an nftables masquerade.
const interopNATSpec = `
prefix: ikin
description: esphub IKE engine behind a NAT, against strongSwan
nodes:
  ours:
    lo: [198.19.1.1/32]
    routes:
      - {to: default, via: 198.18.1.1}
  nat:
    nat: {masquerade: [wan]}
  swan:
    lo: [198.19.2.1/32]
links:
  - a: {node: ours, iface: wan, addr: [198.18.1.2/24]}
    b: {node: nat, iface: lan, addr: [198.18.1.1/24]}
  - a: {node: nat, iface: wan, addr: [198.18.0.1/24]}
    b: {node: swan, iface: wan, addr: [198.18.0.2/24]}
`

var oursNATAddr = netip.MustParseAddr("198.18.1.2")

// interopEnv is a lab with charon in "swan" and our engine in "ours".
type interopEnv struct {
	t    *testing.T
	lab  *lab.Lab
	sw   *swan
	us   *peer
	prof *Profile
	nat  bool
}

func newInterop(t *testing.T, o swanOpts, ikeProp, espProp suite.Proposal) *interopEnv {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, charonBin, "swanctl", "ip", "nft")
	spec, local := interopSpec, oursAddr
	if o.nat {
		spec, local = interopNATSpec, oursNATAddr
	}
	l := labtest.Up(t, spec)
	sw := startSwan(t, l, o)
	tr, err := listenUDP(l.Netns("ours"), local)
	if err != nil {
		t.Fatal(err)
	}
	child := ChildConfig{
		Name: "net", Proposals: []suite.Proposal{espProp},
		LocalTS:  []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.1.1/32"))},
		RemoteTS: []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.2.1/32"))},
	}
	prof := &Profile{
		Name: "swan", LocalID: oursID, RemoteID: swanID, LocalPSK: []byte(swanPSK), RemotePSK: []byte(swanPSK),
		IKEProposals: []suite.Proposal{ikeProp}, Child: child,
	}
	pol := &testPolicy{props: []suite.Proposal{ikeProp}, remoteID: swanID, profile: prof}
	us := &peer{ip: local, inst: &recInstaller{sas: map[uint32]*ChildSA{}}, policy: pol, tr: tr}
	e, err := New(Config{Transport: tr, Policy: pol, Installer: us.inst, OnEvent: us.onEvent,
		RetransmitTimeout: 500 * time.Millisecond, RetransmitTries: 4, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	us.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; tr.Close() })
	return &interopEnv{t: t, lab: l, sw: sw, us: us, prof: prof, nat: o.nat}
}

// check compares strongSwan's view with ours: one IKE SA with the same SPIs,
// the same Child SA SPI pairs, IKE on 4500 (libipsec forces UDP
// encapsulation), and Child SA keys that charon logged.
func (ie *interopEnv) check(wantChildren int) {
	t := ie.t
	t.Helper()
	var ours []IKESAInfo
	var theirs []swanSA
	deadline := time.Now().Add(20 * time.Second)
	for {
		ours = ikeSAs(t, ie.us)
		theirs = ie.sw.listSAs()
		if len(ours) == 1 && len(theirs) == 1 && theirs[0].state == "ESTABLISHED" &&
			len(ours[0].Children) == wantChildren && installedChildren(theirs[0]) == wantChildren {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("views never matched: ours %+v\nstrongSwan %+v", ours, theirs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	o, s := ours[0], theirs[0]
	spiI, spiR := o.LocalSPI, o.RemoteSPI
	if !o.Initiator {
		spiI, spiR = spiR, spiI
	}
	if s.spiI != fmt.Sprintf("%016x", spiI) || s.spiR != fmt.Sprintf("%016x", spiR) {
		t.Fatalf("IKE SPIs: strongSwan %s_i %s_r, ours %016x_i %016x_r", s.spiI, s.spiR, spiI, spiR)
	}
	if o.Local.Port() != 4500 || o.Remote.Port() != 4500 || s.localPort != "4500" || !o.NATRemote || ie.nat && !o.NATLocal {
		t.Fatalf("NAT-T: ours %v -> %v (NAT remote %v), strongSwan local port %s", o.Local, o.Remote, o.NATRemote, s.localPort)
	}
	keys := ie.sw.loggedKeys()
	t.Logf("agree with strongSwan: IKE %s_i %s_r, %d Child SA(s), charon logged %d child keys", s.spiI, s.spiR, len(o.Children), len(keys))
	for _, c := range o.Children {
		found := false
		for _, sc := range s.children {
			if sc.state == "INSTALLED" && sc.in == fmt.Sprintf("%08x", c.OutboundSPI) && sc.out == fmt.Sprintf("%08x", c.InboundSPI) {
				found = true
				if sc.mode != "TUNNEL-in-UDP" {
					t.Fatalf("strongSwan mode %s", sc.mode)
				}
			}
		}
		if !found {
			t.Fatalf("our Child SA in %08x out %08x not in strongSwan's list %+v", c.InboundSPI, c.OutboundSPI, s.children)
		}
		if !c.UDPEncap || c.Remote.Port() != 4500 {
			t.Fatalf("our Child SA is not UDP-encapsulated to 4500: %+v", c)
		}
		for _, k := range [][]byte{c.InboundKeys.Encr, c.OutboundKeys.Encr, c.InboundKeys.Integ, c.OutboundKeys.Integ} {
			if len(k) > 0 && !keys[hex.EncodeToString(k)] {
				t.Fatalf("Child SA key %x (in %08x) not among the %d keys charon derived", k, c.InboundSPI, len(keys))
			}
		}
	}
}

func installedChildren(s swanSA) int {
	n := 0
	for _, c := range s.children {
		if c.state == "INSTALLED" {
			n++
		}
	}
	return n
}

func listenUDP(ns string, a netip.Addr) (*transport.UDP, error) {
	return transport.ListenUDP(transport.UDPConfig{Addrs: []netip.Addr{a}, NetNS: ns})
}

// syncBuffer collects the engine's log; it is printed if the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func testLogger(t *testing.T) *slog.Logger {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			buf.mu.Lock()
			t.Logf("engine log:\n%s", tail(buf.b.String(), 60))
			buf.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
