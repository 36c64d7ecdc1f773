package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonTCP is scenario 4 through two real esphubd daemons with the AF_XDP
// backend, in the topology of xdpTCP: gwb is a FlexVPN server
// (Virtual-Template1, IPsec tunnel mode), gwa a client with a static
// Tunnel0 to it; IKEv2 (PSK, ECP-256) brings the session up and the
// configuration exchange installs each side's LAN route, so the row
// measures what a user deploys, beside the static-SA row that isolates the
// backend.
func daemonTCP(ctx context.Context, o *Options) ([]Result, error) {
	bin, err := findEsphubd(o.Esphubd)
	if err != nil {
		return nil, err
	}
	lab, err := newNetLab("xd")
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	t, err := newTCPLab(ctx, lab)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "esphub-bench-tcpd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	type gw struct {
		name string
		cmd  *exec.Cmd
		done chan error
		log  string
	}
	var gws []*gw
	defer func() {
		for _, g := range gws {
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-g.done:
			case <-time.After(20 * time.Second):
				_ = g.cmd.Process.Kill()
				<-g.done
			}
		}
	}()
	// show runs esphubctl show on a gateway, for the error of a failed run.
	ctl := filepath.Join(filepath.Dir(bin), "esphubctl")
	show := func(name string, what ...string) string {
		if !fileExists(ctl) {
			return ""
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args := append(append([]string{"show"}, what...), "-s", filepath.Join(dir, name+".sock"))
		out, err := exec.CommandContext(sctx, ctl, args...).CombinedOutput()
		return fmt.Sprintf("\n--- esphubctl %s on %s (err %v):\n%s", strings.Join(args, " "), name, err, out)
	}
	logTail := func() string {
		var b strings.Builder
		for _, g := range gws {
			data, _ := os.ReadFile(g.log)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			fmt.Fprintf(&b, "\n--- esphubd on %s:\n%s", g.name, strings.Join(lines[max(0, len(lines)-20):], "\n"))
			b.WriteString(show(g.name, "crypto", "session", "detail"))
			b.WriteString(show(g.name, "dataplane"))
		}
		return b.String()
	}
	start := func(name, ns, cfg string, cpu int) error {
		path := filepath.Join(dir, name+".cfg")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return err
		}
		g := &gw{name: name, log: filepath.Join(dir, name+".log"), done: make(chan error, 1)}
		logf, err := os.Create(g.log)
		if err != nil {
			return err
		}
		defer logf.Close()
		g.cmd = exec.Command("ip", "netns", "exec", ns, bin, "-config", path, "-backend", "afxdp",
			"-api", filepath.Join(dir, name+".sock"), "-xdp-cpus", strconv.Itoa(cpu), "-log-level", "info")
		g.cmd.Stdout, g.cmd.Stderr = logf, logf
		if err := g.cmd.Start(); err != nil {
			return fmt.Errorf("esphubd on %s: %w", name, err)
		}
		go func() { g.done <- g.cmd.Wait() }()
		gws = append(gws, g)
		return nil
	}
	if err := start("gwb", t.ns[2], daemonTCPServer(t), 1%runtime.NumCPU()); err != nil {
		return nil, err
	}
	if err := start("gwa", t.ns[1], daemonTCPClient(t), 0); err != nil {
		return nil, err
	}
	// The session is up and both LAN routes installed once a host reaches
	// the other through the gateways.
	t0 := time.Now()
	for {
		if _, err := nsExecContext(ctx, t.ns[0], "ping", "-c", "1", "-W", "1", t.h1.ip4.String()); err == nil {
			break
		}
		for _, g := range gws {
			select {
			case err := <-g.done:
				g.done <- err
				return nil, fmt.Errorf("esphubd on %s exited: %v%s", g.name, err, logTail())
			default:
			}
		}
		if time.Since(t0) > 60*time.Second || ctx.Err() != nil {
			return nil, fmt.Errorf("hosts not connected through the esphubd gateways after %v%s", time.Since(t0).Round(time.Second), logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	setup := time.Since(t0)
	dur := 10 * time.Second
	if o.Quick {
		dur = time.Second // a smoke test: the tunnel carries TCP
	}
	var v []float64
	for range o.Runs {
		x, err := iperf3TCP(ctx, t.ns[0], t.ns[3], t.h0.ip4, t.h1.ip4, dur)
		if err != nil {
			return nil, fmt.Errorf("through esphubd af_xdp: %w%s", err, logTail())
		}
		v = append(v, x)
	}
	// The gateways' own account of the runs (workers, packets, drops by
	// reason), for the verbose log.
	if fileExists(ctl) {
		for _, g := range gws {
			out, err := exec.CommandContext(ctx, ctl, "show", "dataplane", "-s", filepath.Join(dir, g.name+".sock")).CombinedOutput()
			o.Logger.Info("esphubd dataplane after the runs", "gateway", g.name, "err", err, "show", string(out))
		}
	}
	// Child SAs rekeyed on their kilobyte lifetime (IOS default 4,608,000
	// KB: a fast run crosses it), from the gateways' logs.
	rekeys := 0
	for _, g := range gws {
		data, _ := os.ReadFile(g.log)
		rekeys += strings.Count(string(data), "child sa rekeyed on its kilobyte lifetime")
	}
	note := fmt.Sprintf("The esphubd gateways connected the hosts %.1f s after they started.", setup.Seconds())
	switch {
	case rekeys == 1:
		note += " The Child SA was rekeyed once during the runs, on its kilobyte lifetime (4,608,000 KB, the IOS default)."
	case rekeys > 1:
		note += fmt.Sprintf(" The Child SA was rekeyed %d times during the runs, on its kilobyte lifetime (4,608,000 KB, the IOS default).", rekeys)
	}
	return []Result{{Scenario: ScenarioTCP, Path: PathTCPEsphubd, Value: Summarize(v), Unit: "Mbit/s", Runs: len(v),
		Param: "esphubd -backend afxdp, IKEv2, aes256gcm16, plain ESP",
		Harness: fmt.Sprintf("iperf3 -t %s, one TCP stream, host → gateway → gateway → host (the topology of the static-SA row), "+
			"each gateway a real esphubd process (-backend afxdp, -xdp-cpus: one worker pinned to its own CPU): a FlexVPN server with Virtual-Template1 and a client with a static Tunnel0, IKEv2 PSK ECP-256, routes by the configuration exchange", dur),
		Note: note}}, nil
}

// daemonTCPServer is gwb's configuration: the FlexVPN server.
func daemonTCPServer(t *tcpLab) string {
	return fmt.Sprintf(`hostname gwb
crypto ikev2 proposal bench
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy bench
 proposal bench
crypto ikev2 keyring sites
 peer gwa
  identity fqdn gwa.bench
  pre-shared-key 0 %[1]s
crypto ikev2 authorization policy default
 route set interface
 route set access-list lan
 route accept any tag 1 distance 2
crypto ikev2 profile sites
 match identity remote fqdn domain bench
 identity local fqdn gwb.bench
 authentication local pre-share
 authentication remote pre-share
 keyring local sites
 virtual-template 1
crypto ipsec transform-set gcm256 esp-gcm 256
crypto ipsec profile sites
 set transform-set gcm256
 set ikev2-profile sites
interface Loopback0
 ip address 198.18.144.2 255.255.255.255
interface GigabitEthernet1
 ip address %[2]s 255.255.255.0
interface GigabitEthernet2
 ip address %[3]s 255.255.255.0
interface Virtual-Template1 type tunnel
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel protection ipsec profile sites
ip access-list standard lan
 permit 198.18.143.0 0.0.0.255
end
`, ikePSK, t.w1.ip4, t.l1.ip4)
}

// daemonTCPClient is gwa's configuration: the FlexVPN client.
func daemonTCPClient(t *tcpLab) string {
	return fmt.Sprintf(`hostname gwa
crypto ikev2 proposal bench
 encryption aes-gcm-256
 prf sha256
 group 19
crypto ikev2 policy bench
 proposal bench
crypto ikev2 keyring server
 peer gwb
  address %[2]s
  pre-shared-key 0 %[1]s
crypto ikev2 authorization policy default
 route set interface
 route set access-list lan
 route accept any tag 1 distance 2
crypto ikev2 profile server
 match identity remote fqdn gwb.bench
 identity local fqdn gwa.bench
 authentication local pre-share
 authentication remote pre-share
 keyring local server
crypto ipsec transform-set gcm256 esp-gcm 256
crypto ipsec profile server
 set transform-set gcm256
 set ikev2-profile server
interface Loopback0
 ip address 198.18.144.1 255.255.255.255
interface GigabitEthernet1
 ip address %[3]s 255.255.255.0
interface GigabitEthernet2
 ip address %[4]s 255.255.255.0
interface Tunnel0
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel destination %[2]s
 tunnel protection ipsec profile server
ip access-list standard lan
 permit 198.18.141.0 0.0.0.255
end
`, ikePSK, t.w1.ip4, t.w0.ip4, t.l0.ip4)
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
