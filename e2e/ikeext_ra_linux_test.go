package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

var (
	ctlOnce sync.Once
	ctlBin  string
	ctlErr  error
)

// buildCtl compiles esphubctl once per test binary, next to esphubd.
func buildCtl(t *testing.T) string {
	t.Helper()
	buildDaemon(t) // makes binDir
	ctlOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = "/usr/local/go/bin/go"
		}
		cmd := exec.Command(goBin, "build", "-o", binDir+"/", "./cmd/esphubctl")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			ctlErr = fmt.Errorf("go build esphubctl: %v\n%s", err, out)
		}
		ctlBin = filepath.Join(binDir, "esphubctl")
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlBin
}

// labCA is a CA made with `esphubctl pki`, the way an operator makes one.
type labCA struct {
	t   *testing.T
	ctl string
	dir string
}

func newLabCA(t *testing.T, keyArgs ...string) *labCA {
	t.Helper()
	c := &labCA{t: t, ctl: buildCtl(t), dir: filepath.Join(t.TempDir(), "ca")}
	c.run(append([]string{"pki", "ca", "create", "--name", "esphub e2e CA", "--out", c.dir}, keyArgs...)...)
	return c
}

func (c *labCA) run(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.ctl, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("esphubctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// issue makes CN.pem and CN.key in a new directory and returns their paths.
func (c *labCA) issue(cn string, keyArgs ...string) (cert, key string) {
	c.t.Helper()
	out := c.t.TempDir()
	c.run(append([]string{"pki", "cert", "issue", "--ca", c.dir, "--cn", cn, "--dns", cn, "--out", out}, keyArgs...)...)
	return filepath.Join(out, cn+".pem"), filepath.Join(out, cn+".key")
}

// trustpoint lays out PKIDIR/NAME/{ca,cert,key}.pem for esphubd with
// `esphubctl pki trustpoint`.
func (c *labCA) trustpoint(pkiDir, name, cert, key string) {
	c.t.Helper()
	c.run("pki", "trustpoint", "--out", filepath.Join(pkiDir, name), "--ca", filepath.Join(c.dir, "ca.pem"), "--cert", cert, "--key", key)
}

// swanDir lays out charon's x509ca/, x509/ and private/ for one identity.
func (c *labCA) swanDir(cert, key string) string {
	c.t.Helper()
	d := c.t.TempDir()
	for _, p := range []string{"x509ca", "x509", "private"} {
		if err := os.MkdirAll(filepath.Join(d, p), 0o700); err != nil {
			c.t.Fatal(err)
		}
	}
	copyFile(c.t, filepath.Join(c.dir, "ca.pem"), filepath.Join(d, "x509ca", "ca.pem"))
	copyFile(c.t, cert, filepath.Join(d, "x509", "own.pem"))
	copyFile(c.t, key, filepath.Join(d, "private", "own.key.pem"))
	return d
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// raTopology: a gateway and two remote-access clients on links of their own.
const raTopology = `prefix: rax
nodes:
  gw:
    lo: [198.19.0.1/32]
  c1:
    routes:
      - {to: default, via: 198.18.1.1}
  c2:
    lo: [198.19.0.2/32] # a LAN address a strongSwan gateway here can source from
    routes:
      - {to: default, via: 198.18.2.1}
links:
  - a: {node: gw, iface: c1, addr: [198.18.1.1/24]}
    b: {node: c1, iface: wan, addr: [198.18.1.2/24]}
  - a: {node: gw, iface: c2, addr: [198.18.2.1/24]}
    b: {node: c2, iface: wan, addr: [198.18.2.2/24]}
`

// raGatewayCfg is a FlexVPN remote-access server authenticating clients by
// certificate: one address in its pool, its LAN pushed as a route.
const raGatewayCfg = `hostname gw
crypto pki trustpoint lab
 revocation-check crl none
crypto ikev2 disconnect-revoked-peers
crypto pki certificate map ra 10
 subject-name co ra.lab.example
ip local pool ra 198.19.200.10 198.19.200.10
ip access-list standard lans
 permit 198.19.0.0 0.0.0.255
crypto ikev2 authorization policy default
 pool ra
 route set access-list lans
crypto ikev2 fragmentation mtu 576
crypto ikev2 proposal p
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy p
 proposal p
crypto ikev2 profile ra
 match certificate ra
 identity local fqdn gw.lab.example
 authentication local ecdsa-sig
 authentication remote ecdsa-sig
 authentication remote rsa-sig
 pki trustpoint lab
 dpd 10 2 on-demand
 virtual-template 1 mode auto
crypto ipsec transform-set g esp-gcm 256
crypto ipsec profile ra
 set transform-set g
 set ikev2-profile ra
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Ethernet1
 ip address 198.18.1.1 255.255.255.0
interface Virtual-Template1 type tunnel
 ip unnumbered Loopback0
 tunnel source Ethernet1
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile ra
end
`

// raClient is a strongSwan remote-access client: a virtual IP from the
// gateway's pool, asking for the gateway's LAN.
func raClient(name, addr, dir string) swan.Config {
	return swan.Config{
		Name: name, Dir: dir,
		Charon: map[string]string{"install_virtual_ip": "yes"},
		Conns: []swan.Conn{{
			Name: "gw", LocalAddrs: []string{addr}, RemoteAddrs: []string{"198.18.1.1"},
			Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: name + ".ra.lab.example", RemoteID: "gw.lab.example",
			LocalAuth: "pubkey", RemoteAuth: "pubkey", VIPs: []string{"0.0.0.0"},
			Extra: map[string]string{"fragmentation": "yes"},
			Children: []swan.Child{{Name: "lan", LocalTS: []string{"dynamic"}, RemoteTS: []string{"198.19.0.0/24"},
				ESPProposals: []string{"aes256gcm16"}}},
		}},
	}
}

// TestIKEExtRemoteAccessCertificates: strongSwan clients, certificates from
// `esphubctl pki` (the gateway and the first client ECDSA P-256, the second
// client RSA 2048), against esphubd serving `ip local pool` and `route set`:
// the first client gets the pool's address and the gateway's LAN as its
// remote selector and reaches the LAN; the second finds the pool empty
// (INTERNAL_ADDRESS_FAILURE), and gets the address once the first left.
func TestIKEExtRemoteAccessCertificates(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	ca := newLabCA(t, "--ecdsa", "p256")
	gwCert, gwKey := ca.issue("gw.lab.example", "--ecdsa", "p256")
	c1Cert, c1Key := ca.issue("c1.ra.lab.example", "--ecdsa", "p256")
	c2Cert, c2Key := ca.issue("c2.ra.lab.example", "--rsa", "2048")

	l := labtest.Up(t, raTopology)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	ca.trustpoint(pkiDir, "lab", gwCert, gwKey)
	w := &world{t: t, lab: l, bin: bin, dir: dir, nodes: map[string]*node{}, ctx: ctx}
	gw := &node{name: "gw", cfg: filepath.Join(dir, "gw.cfg"), sock: filepath.Join(dir, "gw.sock"), log: filepath.Join(dir, "gw.log"),
		extra: []string{"-pki-dir", pkiDir}}
	w.nodes["gw"] = gw
	t.Cleanup(func() {
		w.stop(gw)
		cancel()
		if t.Failed() {
			t.Logf("--- esphubd on gw:\n%s", w.logTail(gw))
		}
	})
	writeCfg(t, gw.cfg, raGatewayCfg)
	w.start(gw)
	w.eventually(20*time.Second, "esphubd answering", func() (bool, string) {
		out := w.text(gw, "show", "crypto", "pki", "trustpoints")
		return strings.Contains(out, "Certificate: cn=gw.lab.example"), out
	})

	c1 := swan.StartT(t, l.Netns("c1"), raClient("c1", "198.18.1.2", ca.swanDir(c1Cert, c1Key)))
	ictx, icancel := context.WithTimeout(ctx, time.Minute)
	defer icancel()
	start := time.Now()
	if err := c1.Initiate(ictx, "gw", "lan"); err != nil {
		t.Fatalf("c1 initiate: %v\n%s", err, c1.LogTail(40))
	}
	t.Logf("c1 (ECDSA P-256) up in %v", time.Since(start).Round(time.Millisecond))
	sa, err := c1.WaitSA(ictx, func(sa swan.IKESA) bool { _, ok := sa.Child("lan", "INSTALLED"); return ok })
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := sa.Child("lan", "INSTALLED")
	if strings.Join(sa.LocalVIPs, ",") != "198.19.200.10" {
		t.Errorf("c1 virtual IPs %v, want 198.19.200.10 from the gateway's pool", sa.LocalVIPs)
	}
	if strings.Join(ch.LocalTS, ",") != "198.19.200.10/32" || strings.Join(ch.RemoteTS, ",") != "198.19.0.0/24" {
		t.Errorf("c1 selectors %v === %v, want 198.19.200.10/32 === 198.19.0.0/24", ch.LocalTS, ch.RemoteTS)
	}
	t.Logf("c1 swanctl --list-sas: vips %v, %s === %s", sa.LocalVIPs, ch.LocalTS, ch.RemoteTS)
	log, _ := c1.Log()
	if !strings.Contains(string(log), "CPRP(ADDR SUBNET") {
		t.Errorf("c1 did not receive the address and the pushed subnet in a CFG_REPLY:\n%s", grepLines(string(log), "IKE_AUTH response"))
	}
	det := w.text(gw, "show", "crypto", "ikev2", "sa", "detailed")
	for _, want := range []string{"Auth sign: ECDSA, Auth verify: ECDSA", "Remote id: c1.ra.lab.example", "IETF Std Fragmentation enabled.", "DPD configured for 10 seconds, retry 2 (on-demand)"} {
		if !strings.Contains(det, want) {
			t.Errorf("gw show crypto ikev2 sa detailed lacks %q:\n%s", want, det)
		}
	}
	// Traffic from the virtual IP reaches the gateway's LAN address.
	var perr error
	for range 3 {
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		var pout []byte
		pout, perr = l.Exec(pctx, "c1", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "3", "-I", "198.19.200.10", "198.19.0.1")
		pcancel()
		if perr == nil {
			break
		}
		perr = fmt.Errorf("%v\n%s", perr, pout)
	}
	if perr != nil {
		t.Errorf("ping from the virtual IP to the gateway LAN: %v\n%s", perr, w.text(gw, "show", "dataplane"))
	}

	// The pool is empty now: c2 (RSA) authenticates, but gets no address.
	c2 := swan.StartT(t, l.Netns("c2"), raClient("c2", "198.18.2.2", ca.swanDir(c2Cert, c2Key)))
	if err := c2.Initiate(ictx, "gw", "lan"); err == nil {
		t.Fatal("c2 got a session from an exhausted pool")
	}
	log2, _ := c2.Log()
	if !strings.Contains(string(log2), "INT_ADDR_FAIL") && !strings.Contains(string(log2), "INTERNAL_ADDRESS_FAILURE") {
		t.Errorf("c2 was not refused with INTERNAL_ADDRESS_FAILURE:\n%s", c2.LogTail(30))
	}
	var stats struct {
		Counters map[string]uint64 `json:"counters"`
	}
	if err := w.exec(gw, &stats, "show", "crypto", "ikev2", "stats"); err != nil || stats.Counters["config_failures"] == 0 {
		t.Errorf("gw config_failures %v (%v), want > 0", stats.Counters["config_failures"], err)
	}

	// c1 leaves; c2 (RSA) gets the address.
	if err := c1.Terminate(ictx, "gw"); err != nil {
		t.Fatal(err)
	}
	w.eventually(20*time.Second, "c1's session gone", func() (bool, string) {
		s, text := w.sessionsByID(gw)
		return len(s) == 0, text
	})
	_ = c2.Terminate(ictx, "gw") // its IKE SA without a Child SA: start afresh
	if err := c2.Initiate(ictx, "gw", "lan"); err != nil {
		t.Fatalf("c2 initiate after c1 left: %v\n%s", err, c2.LogTail(40))
	}
	sa2, err := c2.WaitSA(ictx, func(sa swan.IKESA) bool { _, ok := sa.Child("lan", "INSTALLED"); return ok })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sa2.LocalVIPs, ",") != "198.19.200.10" {
		t.Errorf("c2 virtual IPs %v, want the released 198.19.200.10", sa2.LocalVIPs)
	}
	det = w.text(gw, "show", "crypto", "ikev2", "sa", "detailed")
	if !strings.Contains(det, "Auth sign: ECDSA, Auth verify: RSA") {
		t.Errorf("gw did not verify c2's RSA certificate:\n%s", det)
	}

	// The CA revokes c2 (esphubctl pki crl); a reload loads the CRL and,
	// with disconnect-revoked-peers, ends c2's session; c2 is refused after.
	ca.run("pki", "crl", "--ca", ca.dir, "--revoke", c2Cert, "--out", filepath.Join(pkiDir, "lab", "crl.pem"))
	var reload struct {
		Changes []string `json:"changes"`
	}
	if err := w.exec(gw, &reload, "reload"); err != nil {
		t.Fatal(err)
	}
	t.Logf("reload: %v", reload.Changes)
	w.eventually(20*time.Second, "c2's session ended by the CRL", func() (bool, string) {
		s, text := w.sessionsByID(gw)
		return len(s) == 0, text
	})
	_ = c2.Terminate(ictx, "gw")
	rs := time.Now()
	if err := c2.Initiate(ictx, "gw", "lan"); err == nil {
		t.Fatal("the revoked c2 got a session")
	}
	t.Logf("revoked c2 refused after %v", time.Since(rs).Round(time.Millisecond))
	var st struct {
		Refused map[string]uint64 `json:"certificates_refused"`
	}
	if err := w.exec(gw, &st, "show", "crypto", "ikev2", "stats"); err != nil || st.Refused["revoked"] == 0 {
		t.Errorf("revoked refusals %v (%v), want > 0", st.Refused, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// spokeCertCfg is an esphubd spoke authenticating with a certificate to a
// gateway at 198.18.1.1, its identity the certificate's DN, fragmenting
// IKE messages at 576 bytes.
const spokeCertCfg = `hostname c1
crypto pki trustpoint lab
 revocation-check none
crypto ikev2 fragmentation mtu 576
crypto ikev2 proposal p
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy p
 proposal p
crypto ikev2 profile gw
 match identity remote fqdn gw.lab.example
 identity local dn
 authentication local SIG
 authentication remote SIG
 pki trustpoint lab
crypto ipsec transform-set g esp-gcm 256
crypto ipsec profile gw
 set transform-set g
 set ikev2-profile gw
interface Loopback0
 ip address 198.19.1.1 255.255.255.255
interface Ethernet1
 ip address 198.18.1.2 255.255.255.0
interface Tunnel0
 ip unnumbered Loopback0
 tunnel source Ethernet1
 tunnel mode ipsec ipv4
 tunnel destination 198.18.1.1
 tunnel protection ipsec profile gw
end
`

// TestIKEExtSpokeCertificatesToStrongSwan: esphubd initiates to a
// strongSwan gateway, both with `esphubctl pki` certificates, ECDSA P-256
// and RSA 2048; IKE_AUTH is fragmented at 576 bytes both ways.
func TestIKEExtSpokeCertificatesToStrongSwan(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	for _, c := range []struct {
		name, sig, show string
		key             []string
	}{
		{"ecdsa-p256", "ecdsa-sig", "ECDSA", []string{"--ecdsa", "p256"}},
		{"rsa-2048", "rsa-sig", "RSA", []string{"--rsa", "2048"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ca := newLabCA(t, c.key...)
			gwCert, gwKey := ca.issue("gw.lab.example", c.key...)
			c1Cert, c1Key := ca.issue("c1.ra.lab.example", c.key...)
			l := labtest.Up(t, raTopology)
			ctx, cancel := context.WithCancel(context.Background())
			dir := t.TempDir()
			pkiDir := filepath.Join(dir, "pki")
			ca.trustpoint(pkiDir, "lab", c1Cert, c1Key)
			sw := swan.StartT(t, l.Netns("gw"), swan.Config{
				Name: "gw", Dir: ca.swanDir(gwCert, gwKey),
				Charon: map[string]string{"fragment_size": "576"},
				Conns: []swan.Conn{{
					Name: "spokes", LocalAddrs: []string{"198.18.1.1"}, RemoteAddrs: []string{"198.18.1.2"},
					Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: "gw.lab.example", RemoteID: "CN=c1.ra.lab.example",
					LocalAuth: "pubkey", RemoteAuth: "pubkey", Extra: map[string]string{"fragmentation": "yes"},
					Children: []swan.Child{{Name: "net", LocalTS: []string{"198.19.0.0/24"}, RemoteTS: []string{"198.19.1.0/24"},
						ESPProposals: []string{"aes256gcm16"}}},
				}},
			})
			w := &world{t: t, lab: l, bin: bin, dir: dir, nodes: map[string]*node{}, ctx: ctx}
			c1 := &node{name: "c1", cfg: filepath.Join(dir, "c1.cfg"), sock: filepath.Join(dir, "c1.sock"), log: filepath.Join(dir, "c1.log"),
				extra: []string{"-pki-dir", pkiDir}}
			t.Cleanup(func() {
				w.stop(c1)
				cancel()
				if t.Failed() {
					t.Logf("--- esphubd on c1:\n%s\n--- strongSwan:\n%s", w.logTail(c1), sw.LogTail(40))
				}
			})
			writeCfg(t, c1.cfg, strings.ReplaceAll(spokeCertCfg, "SIG", c.sig))
			w.start(c1)
			start := time.Now()
			w.eventually(30*time.Second, "esphubd's certificate session with strongSwan", func() (bool, string) {
				out := w.text(c1, "show", "crypto", "ikev2", "sa", "detailed")
				return strings.Contains(out, "READY") && strings.Contains(out, "Auth sign: "+c.show+", Auth verify: "+c.show), out
			})
			t.Logf("esphubd (%s) up with strongSwan within %v", c.name, time.Since(start).Round(100*time.Millisecond))
			sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
			defer scancel()
			sa, err := sw.WaitSA(sctx, func(sa swan.IKESA) bool { _, ok := sa.Child("net", "INSTALLED"); return ok })
			if err != nil {
				t.Fatal(err)
			}
			if sa.RemoteID != "CN=c1.ra.lab.example" {
				t.Errorf("strongSwan's peer id %q", sa.RemoteID)
			}
			log, _ := sw.Log()
			if !strings.Contains(string(log), "authentication of 'CN=c1.ra.lab.example' with "+c.show) {
				t.Errorf("strongSwan did not verify our %s signature:\n%s", c.show, grepLines(string(log), "authentication of"))
			}
			det := w.text(c1, "show", "crypto", "ikev2", "sa", "detailed")
			if !strings.Contains(det, "IETF Std Fragmentation enabled.") {
				t.Errorf("fragmentation not negotiated:\n%s", det)
			}
			var stats struct {
				Counters map[string]uint64 `json:"counters"`
			}
			if err := w.exec(c1, &stats, "show", "crypto", "ikev2", "stats"); err != nil {
				t.Fatal(err)
			}
			t.Logf("esphubd fragments sent %d, received %d", stats.Counters["fragments_sent"], stats.Counters["fragments_received"])
			if c.show == "RSA" && (stats.Counters["fragments_sent"] < 2 || stats.Counters["fragments_received"] < 2) {
				t.Errorf("the RSA IKE_AUTH was not fragmented both ways: %v", stats.Counters)
			}
		})
	}
}

// TestIKEExtOnDemandDPD (ESPHUB_DPD_E2E=1; about 40 s): `dpd 10 2
// on-demand` on esphubd stays silent while the tunnel is idle, and once
// strongSwan was killed, traffic the gateway sends into the tunnel (seen
// in the dataplane's counters) starts liveness checks that declare the
// peer dead and remove the session.
func TestIKEExtOnDemandDPD(t *testing.T) {
	if os.Getenv("ESPHUB_DPD_E2E") != "1" {
		t.Skip("set ESPHUB_DPD_E2E=1 to run (about 40 s of DPD timers)")
	}
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	ca := newLabCA(t, "--ecdsa", "p256")
	gwCert, gwKey := ca.issue("gw.lab.example", "--ecdsa", "p256")
	c1Cert, c1Key := ca.issue("c1.ra.lab.example", "--ecdsa", "p256")
	l := labtest.Up(t, raTopology)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	ca.trustpoint(pkiDir, "lab", gwCert, gwKey)
	w := &world{t: t, lab: l, bin: bin, dir: dir, nodes: map[string]*node{}, ctx: ctx}
	gw := &node{name: "gw", cfg: filepath.Join(dir, "gw.cfg"), sock: filepath.Join(dir, "gw.sock"), log: filepath.Join(dir, "gw.log"),
		extra: []string{"-pki-dir", pkiDir}}
	t.Cleanup(func() {
		w.stop(gw)
		cancel()
		if t.Failed() {
			t.Logf("--- esphubd on gw:\n%s", w.logTail(gw))
		}
	})
	writeCfg(t, gw.cfg, raGatewayCfg)
	w.start(gw)
	c1 := swan.StartT(t, l.Netns("c1"), raClient("c1", "198.18.1.2", ca.swanDir(c1Cert, c1Key)))
	ictx, icancel := context.WithTimeout(ctx, 2*time.Minute)
	defer icancel()
	w.eventually(20*time.Second, "esphubd answering", func() (bool, string) {
		out := w.text(gw, "show", "crypto", "pki", "trustpoints")
		return strings.Contains(out, "Certificate: cn=gw.lab.example"), out
	})
	if err := c1.Initiate(ictx, "gw", "lan"); err != nil {
		t.Fatalf("c1 initiate: %v", err)
	}
	counters := func() map[string]uint64 {
		var st struct {
			Counters map[string]uint64 `json:"counters"`
		}
		if err := w.exec(gw, &st, "show", "crypto", "ikev2", "stats"); err != nil {
			t.Fatal(err)
		}
		return st.Counters
	}
	time.Sleep(12 * time.Second) // more than one DPD interval, idle
	if n := counters()["dpd_checks"]; n != 0 {
		t.Errorf("on-demand DPD checked an idle tunnel %d times", n)
	}
	c1.Kill()
	killed := time.Now()
	go func() { // traffic into the tunnel towards the dead client
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		_, _ = l.Exec(pctx, "gw", "ping", "-n", "-q", "-c", "100", "-i", "0.5", "-W", "1", "-I", "198.19.0.1", "198.19.200.10")
	}()
	w.eventually(60*time.Second, "the dead client's session removed", func() (bool, string) {
		s, text := w.sessionsByID(gw)
		return len(s) == 0, text
	})
	c := counters()
	t.Logf("on-demand DPD: peer declared dead %v after the kill; dpd_checks %d, dpd_dead_peers %d",
		time.Since(killed).Round(100*time.Millisecond), c["dpd_checks"], c["dpd_dead_peers"])
	if c["dpd_dead_peers"] != 1 {
		t.Errorf("dpd_dead_peers %d, want 1", c["dpd_dead_peers"])
	}
}

// TestIKEExtRedirectToClusterMember: esphubd as a cluster director
// (`crypto ikev2 redirect gateway init`, `crypto ikev2 cluster` with one
// member) sends a strongSwan remote-access client to the member, another
// strongSwan, where it gets its virtual IP.
func TestIKEExtRedirectToClusterMember(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	ca := newLabCA(t, "--ecdsa", "p256")
	gwCert, gwKey := ca.issue("gw.lab.example", "--ecdsa", "p256")
	memberCert, memberKey := ca.issue("gw.lab.example", "--ecdsa", "p256")
	c1Cert, c1Key := ca.issue("c1.ra.lab.example", "--ecdsa", "p256")
	l := labtest.Up(t, raTopology)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	ca.trustpoint(pkiDir, "lab", gwCert, gwKey)
	w := &world{t: t, lab: l, bin: bin, dir: dir, nodes: map[string]*node{}, ctx: ctx}
	gw := &node{name: "gw", cfg: filepath.Join(dir, "gw.cfg"), sock: filepath.Join(dir, "gw.sock"), log: filepath.Join(dir, "gw.log"),
		extra: []string{"-pki-dir", pkiDir}}
	t.Cleanup(func() {
		w.stop(gw)
		cancel()
		if t.Failed() {
			t.Logf("--- esphubd on gw:\n%s", w.logTail(gw))
		}
	})
	writeCfg(t, gw.cfg, strings.Replace(raGatewayCfg, "hostname gw\n",
		"hostname gw\ncrypto ikev2 redirect gateway init\ncrypto ikev2 cluster\n member 198.18.2.2\n", 1))
	w.start(gw)
	member := swan.StartT(t, l.Netns("c2"), swan.Config{
		Name: "member", Dir: ca.swanDir(memberCert, memberKey),
		Pools: map[string]string{"ra": "198.19.201.8/30"},
		Conns: []swan.Conn{{
			Name: "ra", LocalAddrs: []string{"198.18.2.2"},
			Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: "gw.lab.example",
			LocalAuth: "pubkey", RemoteAuth: "pubkey", Pools: []string{"ra"},
			Children: []swan.Child{{Name: "lan", LocalTS: []string{"198.19.0.0/24"}, RemoteTS: []string{"dynamic"},
				ESPProposals: []string{"aes256gcm16"}}},
		}},
	})
	w.eventually(20*time.Second, "esphubd answering", func() (bool, string) {
		out := w.text(gw, "show", "crypto", "ikev2", "cluster")
		return strings.Contains(out, "Member: 198.18.2.2"), out
	})
	c1 := swan.StartT(t, l.Netns("c1"), raClient("c1", "198.18.1.2", ca.swanDir(c1Cert, c1Key)))
	ictx, icancel := context.WithTimeout(ctx, time.Minute)
	defer icancel()
	if err := c1.Initiate(ictx, "gw", "lan"); err != nil {
		t.Logf("c1 initiate: %v (the redirect may end the first attempt)", err)
	}
	sa, err := c1.WaitSA(ictx, func(sa swan.IKESA) bool {
		_, ok := sa.Child("lan", "INSTALLED")
		return ok && sa.RemoteHost.String() == "198.18.2.2"
	})
	if err != nil {
		t.Fatalf("c1 never reached the cluster member: %v\n%s\n--- member:\n%s", err, c1.LogTail(10), member.LogTail(60))
	}
	if len(sa.LocalVIPs) != 1 || !strings.HasPrefix(sa.LocalVIPs[0], "198.19.201.") {
		t.Errorf("c1 virtual IPs %v, want one from the member's pool", sa.LocalVIPs)
	}
	var stats struct {
		Counters map[string]uint64 `json:"counters"`
	}
	if err := w.exec(gw, &stats, "show", "crypto", "ikev2", "stats"); err != nil {
		t.Fatal(err)
	}
	if stats.Counters["redirects_sent"] == 0 {
		t.Errorf("esphubd sent no REDIRECT: %v", stats.Counters)
	}
	if s, text := w.sessionsByID(gw); len(s) != 0 {
		t.Errorf("the director kept a session:\n%s", text)
	}
	msa, err := member.ListSAs(ictx)
	if err != nil || len(msa) != 1 {
		t.Errorf("member SAs %v (%v), want 1", msa, err)
	}
	t.Logf("c1 redirected by esphubd to %v, virtual IP %v", sa.RemoteHost, sa.LocalVIPs)
}
