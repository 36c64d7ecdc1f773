package portable

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

const charonPath = "/usr/lib/ipsec/charon"

const swanSites = `
nodes:
  s1:
    lo: [198.19.1.1/32]
  s2:
    lo: [198.19.2.1/32]
links:
  - a: {node: s1, iface: wan, addr: [198.18.0.1/24]}
    b: {node: s2, iface: wan, addr: [198.18.0.2/24]}
`

const swanConf = `charon {
    load_modular = no
    load = random nonce openssl pem pkcs1 x509 pubkey revocation constraints kdf gmp curve25519 aes gcm sha1 sha2 hmac kernel-libipsec kernel-netlink socket-default vici updown
    install_routes = %s
    install_virtual_ip = no
    retransmit_tries = 3
    filelog {
        peer {
            path = %s/charon.log
            time_format = %%H:%%M:%%S
            append = no
            flush_line = yes
            default = 1
            ike = 2
            chd = 4
            cfg = 2
            knl = 1
        }
    }
    plugins {
        vici {
            socket = unix://%s/charon.vici
        }
    }
}
swanctl {
    load = pem pkcs1 x509 revocation constraints pubkey openssl random
}
`

const swanctlConf = `connections {
    a-b {
        version = 2
        local_addrs  = %s
        remote_addrs = %s
        proposals = aes256gcm16-prfsha256-ecp256
        local {
            auth = psk
            id = %s
        }
        remote {
            auth = psk
            id = %s
        }
        children {
            net {
                local_ts  = %s
                remote_ts = %s
                esp_proposals = aes256gcm16
                mode = tunnel
                start_action = none
            }
        }
    }
}
secrets {
    ike-ab {
        id-a = a.test
        id-b = b.test
        secret = "portable-interop-psk-0123456789"
    }
}
`

type charon struct {
	dir string
	cmd *exec.Cmd
}

func (c *charon) swanctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "swanctl", append(args, "--uri", "unix://"+c.dir+"/charon.vici")...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+c.dir+"/strongswan.conf")
	return cmd.CombinedOutput()
}

func startCharon(t *testing.T, ctx context.Context, l *lab.Lab, node, local, remote, localID, remoteID, lts, rts string, routes bool) *charon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), node)
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	yes := "no"
	if routes {
		yes = "yes"
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("strongswan.conf", fmt.Sprintf(swanConf, yes, dir, dir))
	write("swanctl.conf", fmt.Sprintf(swanctlConf, local, remote, localID, remoteID, lts, rts))
	c := &charon{dir: dir}
	c.cmd = l.Command(ctx, node, "sh", "-c", fmt.Sprintf("mount --bind %s/run /run && STRONGSWAN_CONF=%s/strongswan.conf exec %s", dir, dir, charonPath))
	out, err := os.Create(filepath.Join(dir, "charon.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		out.Close()
	})
	waitFor(t, 30*time.Second, "charon vici socket on "+node, func() bool {
		_, err := os.Stat(filepath.Join(dir, "charon.vici"))
		return err == nil
	})
	if b, err := c.swanctl(ctx, "--load-all", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		t.Fatalf("swanctl --load-all on %s: %v\n%s", node, err, b)
	}
	return c
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	logDump = regexp.MustCompile(`^\S+ (\d+)\[CHD\] (encryption (?:initiator|responder) key) => (\d+) bytes @`)
	logHex  = regexp.MustCompile(`^\S+ (\d+)\[CHD\]\s+\d+: ((?:[0-9A-F]{2} ){1,16})`)
	spiRe   = regexp.MustCompile(`(?m)^\s+(in|out)\s+([0-9a-f]{8})`)
)

// childKeys reads the CHILD_SA encryption keys charon logs at chd level 4
// ("encryption initiator key => 36 bytes @ ..." plus hex lines).
func childKeys(t *testing.T, log []byte) (initiator, responder []byte) {
	t.Helper()
	var cur *[]byte
	want, tid := 0, ""
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if m := logDump.FindStringSubmatch(line); m != nil {
			want, _ = strconv.Atoi(m[3])
			tid = m[1]
			if strings.Contains(m[2], "initiator") {
				initiator, cur = nil, &initiator
			} else {
				responder, cur = nil, &responder
			}
			continue
		}
		if m := logHex.FindStringSubmatch(line); m != nil && cur != nil && m[1] == tid && len(*cur) < want {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(m[2]), " ", ""))
			if err != nil {
				t.Fatalf("hex in %q: %v", line, err)
			}
			*cur = append(*cur, b...)
			if len(*cur) >= want {
				*cur = (*cur)[:want]
				cur = nil
			}
		}
	}
	if len(initiator) != 36 || len(responder) != 36 {
		t.Fatalf("child keys not found in charon log (initiator %d bytes, responder %d)", len(initiator), len(responder))
	}
	return initiator, responder
}

// TestStrongSwanInterop sets up a Child SA between two strongSwan
// instances (kernel-libipsec, ESP in UDP), takes the keys strongSwan derived
// on s2 from its log, replaces s2's charon with the portable backend using
// those keys, and checks that s1's strongSwan and our engine exchange
// traffic: ping both ways and a 10-second iperf3 in each direction.
func TestStrongSwanInterop(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, charonPath, "swanctl", "iperf3", "ping")
	testenv.Short(t)
	l := labtest.Up(t, swanSites)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	startCharon(t, ctx, l, "s1", "198.18.0.1", "198.18.0.2", "a.test", "b.test", "198.19.1.1/32", "198.19.2.1/32", true)
	ours := startCharon(t, ctx, l, "s2", "198.18.0.2", "198.18.0.1", "b.test", "a.test", "198.19.2.1/32", "198.19.1.1/32", false)
	if b, err := ours.swanctl(ctx, "--initiate", "--child", "net", "--ike", "a-b", "--timeout", "30"); err != nil {
		t.Fatalf("initiate: %v\n%s", err, b)
	}
	sas, err := ours.swanctl(ctx, "--list-sas")
	if err != nil {
		t.Fatalf("list-sas: %v\n%s", err, sas)
	}
	var spiIn, spiOut uint32
	for _, m := range spiRe.FindAllStringSubmatch(string(sas), -1) {
		v, _ := strconv.ParseUint(m[2], 16, 32)
		if m[1] == "in" {
			spiIn = uint32(v)
		} else {
			spiOut = uint32(v)
		}
	}
	if spiIn == 0 || spiOut == 0 {
		t.Fatalf("no SPIs in list-sas:\n%s", sas)
	}
	logBytes, err := os.ReadFile(filepath.Join(ours.dir, "charon.log"))
	if err != nil {
		t.Fatal(err)
	}
	keyI, keyR := childKeys(t, logBytes) // s2 initiated: its outbound uses the initiator key
	// Take over from s2's charon without letting it delete the SAs.
	_ = ours.cmd.Process.Signal(syscall.SIGKILL)
	_ = ours.cmd.Wait()

	var tun *TUN
	var udp *UDPUnderlay
	local := netip.MustParseAddr("198.18.0.2")
	waitFor(t, 20*time.Second, "UDP 4500 to be free on s2", func() bool {
		err := l.Do("s2", func() error {
			var err error
			udp, err = ListenUDP(netip.AddrPortFrom(local, 4500))
			return err
		})
		return err == nil
	})
	mustOK(t, l.Do("s2", func() error {
		var err error
		tun, err = OpenTUN("esp0")
		return err
	}))
	for _, argv := range [][]string{
		{"ip", "link", "set", "esp0", "up", "mtu", "1400"},
		{"ip", "route", "add", "198.19.1.1/32", "dev", "esp0", "src", "198.19.2.1"},
	} {
		if _, err := l.Exec(ctx, "s2", argv...); err != nil {
			t.Fatal(err)
		}
	}
	e := dataplane.NewEngine(dataplane.Options{})
	b, err := New(Config{Engine: e, Overlay: tun, UDP: udp})
	mustOK(t, err)
	mustOK(t, b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: local,
		Remote: netip.MustParseAddr("198.18.0.1"), Encap: true}))
	mustOK(t, b.AddSA(dataplane.SAConfig{SPI: spiOut, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: keyI}))
	mustOK(t, b.AddSA(dataplane.SAConfig{SPI: spiIn, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: keyR}))
	mustOK(t, b.AddRoute(0, netip.MustParsePrefix("198.19.1.1/32"), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	mustOK(t, b.AddRoute(0, netip.MustParsePrefix("198.19.2.1/32"), dataplane.NextHop{Kind: dataplane.NextHopHost}))
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = b.RunOverlay(runCtx) }()
	go func() { defer wg.Done(); _ = udp.Serve(runCtx, b) }()
	t.Cleanup(func() {
		stop()
		tun.Close()
		udp.Close()
		wg.Wait()
	})
	diag := func() string {
		return fmt.Sprintf("backend %+v drops %v", b.Stats(), nonZero(b.Drops()))
	}

	for _, c := range []struct{ node, src, dst string }{{"s1", "198.19.1.1", "198.19.2.1"}, {"s2", "198.19.2.1", "198.19.1.1"}} {
		out, err := l.Exec(ctx, c.node, "ping", "-c", "3", "-i", "0.2", "-W", "5", "-I", c.src, c.dst)
		if err != nil || !strings.Contains(string(out), " 0% packet loss") {
			t.Fatalf("ping from %s: %v\n%s\n%s", c.node, err, out, diag())
		}
	}
	for _, reverse := range []bool{false, true} {
		port := "5201"
		if reverse {
			port = "5202"
		}
		srv := l.Command(ctx, "s2", "iperf3", "-s", "-1", "-B", "198.19.2.1", "-p", port)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "iperf3 server", func() bool {
			out, _ := l.Exec(ctx, "s2", "ss", "-Hltn", "sport", "= :"+port)
			return strings.Contains(string(out), "198.19.2.1:"+port)
		})
		args := []string{"iperf3", "-c", "198.19.2.1", "-B", "198.19.1.1", "-p", port, "-t", "10", "-J"}
		if reverse {
			args = append(args, "-R")
		}
		cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
		out, err := l.Exec(cctx, "s1", args...)
		ccancel()
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if err != nil {
			t.Fatalf("iperf3 reverse=%v: %v\n%s\n%s", reverse, err, out, diag())
		}
		var res struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					Bytes         float64 `json:"bytes"`
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("iperf3 json: %v", err)
		}
		if res.End.SumReceived.Bytes == 0 {
			t.Fatalf("iperf3 reverse=%v moved no data: %s\n%s", reverse, res.Error, diag())
		}
		dir := "strongSwan -> esphub"
		if reverse {
			dir = "esphub -> strongSwan"
		}
		t.Logf("iperf3 10 s %s: %.0f Mbit/s", dir, res.End.SumReceived.BitsPerSecond/1e6)
	}
	if n := e.Drops()[dataplane.DropAuth] + e.Drops()[dataplane.DropReplay]; n != 0 {
		t.Errorf("auth/replay drops with a real peer: %v", nonZero(e.Drops()))
	}
}
