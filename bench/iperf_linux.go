package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/esphub/esphub/internal/swan"
)

// iperf3TCP runs an iperf3 server in nsServer on addr and a client in
// nsClient bound to from, for d, and returns the receiver's Mbit/s.
func iperf3TCP(ctx context.Context, nsClient, nsServer string, from, addr netip.Addr, d time.Duration) (float64, error) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		return 0, fmt.Errorf("iperf3 is not installed (apt-get install iperf3)")
	}
	port := "5201"
	srv := exec.CommandContext(ctx, "ip", "netns", "exec", nsServer, "iperf3", "-s", "-1", "-B", addr.String(), "-p", port)
	var srvOut strings.Builder
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		return 0, fmt.Errorf("start iperf3 server: %w", err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Wait() }()
	// The server exits after its one test; if it lingers (iperf3 -1 does
	// not always), it is killed rather than waited for.
	defer func() {
		select {
		case <-srvDone:
		case <-time.After(2 * time.Second):
			srv.Process.Kill()
			<-srvDone
		}
	}()
	// Wait until the server listens (ip netns exec and iperf3 start slowly
	// on a loaded machine).
	for try := 0; try < 100; try++ {
		o, err := nsExecContext(ctx, nsServer, "ss", "-Hltn", "sport = :"+port)
		if err == nil && strings.Contains(o, addr.String()) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	secs := strconv.Itoa(max(1, int(d.Round(time.Second).Seconds())))
	var out string
	var err error
	// The server needs a moment to listen; retry the connection briefly.
	for try := 0; try < 50; try++ {
		cctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		out, err = nsExecContext(cctx, nsClient, "iperf3", "-c", addr.String(), "-B", from.String(), "-p", port, "-t", secs, "-J", "--connect-timeout", "2000")
		cancel()
		if err == nil || !strings.Contains(out, "Connection refused") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return 0, fmt.Errorf("iperf3 client: %w", err)
	}
	return parseIperf3([]byte(out))
}

// StrongSwanTCP is scenario 5: iperf3 TCP between two namespaces through a
// strongSwan kernel-libipsec tunnel (ESP in UDP, AES-256-GCM, userspace
// ESP through a TUN device), plus the same iperf3 over the bare veth for
// scale.
func strongSwanTCP(ctx context.Context, o *Options) ([]Result, error) {
	lab, err := newNetLab("sw")
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	nsA, err := lab.ns("a")
	if err != nil {
		return nil, err
	}
	nsB, err := lab.ns("b")
	if err != nil {
		return nil, err
	}
	a, b, err := lab.veth(nsA, "wa", nsB, "wb", 111)
	if err != nil {
		return nil, err
	}
	inA, inB := netip.MustParseAddr("198.19.111.1"), netip.MustParseAddr("198.19.112.1")
	if err := ipRun("-n", nsA, "addr", "add", inA.String()+"/32", "dev", "lo"); err != nil {
		return nil, err
	}
	if err := ipRun("-n", nsB, "addr", "add", inB.String()+"/32", "dev", "lo"); err != nil {
		return nil, err
	}
	dur := 10 * time.Second
	if o.Quick {
		dur = time.Second // a smoke test: the tunnel carries TCP
	}
	var out []Result
	// Plain veth, for scale.
	var plain []float64
	for range o.Runs {
		v, err := iperf3TCP(ctx, nsA, nsB, a.ip4, b.ip4, dur)
		if err != nil {
			return nil, err
		}
		plain = append(plain, v)
	}
	out = append(out, Result{Scenario: ScenarioSwan, Path: PathTCPPlain, Value: Summarize(plain), Unit: "Mbit/s", Runs: len(plain),
		Param: "no tunnel", Harness: fmt.Sprintf("iperf3 -t %s, one TCP stream, two namespaces on one veth", dur)})

	quiet := map[string]int{"ike": 1, "chd": 1, "cfg": 1, "knl": 1, "enc": 0, "net": 0, "esp": 0}
	conf := func(name string, local, remote *end, lts, rts netip.Addr, localID, remoteID string) swan.Config {
		return swan.Config{
			Name: name,
			Conns: []swan.Conn{{
				Name: "bench", LocalAddrs: []string{local.ip4.String()}, RemoteAddrs: []string{remote.ip4.String()},
				Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: localID, RemoteID: remoteID,
				Children: []swan.Child{{Name: "net", LocalTS: []string{lts.String() + "/32"}, RemoteTS: []string{rts.String() + "/32"},
					ESPProposals: []string{"aes256gcm16"}, RekeyTime: -1}},
			}},
			Secrets:   []swan.Secret{{Name: "bench", IDs: []string{"a.bench", "b.bench"}, PSK: "esphub-bench-psk-0123456789"}},
			LogLevels: quiet,
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ia, err := swan.Start(sctx, nsA, conf("bench-a", a, b, inA, inB, "a.bench", "b.bench"))
	if err != nil {
		return out, fmt.Errorf("strongswan a: %w", err)
	}
	defer ia.Stop()
	ib, err := swan.Start(sctx, nsB, conf("bench-b", b, a, inB, inA, "b.bench", "a.bench"))
	if err != nil {
		return out, fmt.Errorf("strongswan b: %w", err)
	}
	defer ib.Stop()
	if err := ia.Initiate(sctx, "bench", "net"); err != nil {
		return out, fmt.Errorf("strongswan initiate: %w: %s", err, ia.LogTail(10))
	}
	var tun []float64
	for range o.Runs {
		v, err := iperf3TCP(ctx, nsA, nsB, inA, inB, dur)
		if err != nil {
			return out, fmt.Errorf("through strongswan: %w", err)
		}
		tun = append(tun, v)
	}
	out = append(out, Result{Scenario: ScenarioSwan, Path: PathTCPSwan, Value: Summarize(tun), Unit: "Mbit/s", Runs: len(tun),
		Param:   "aes256gcm16, ESP in UDP",
		Harness: fmt.Sprintf("iperf3 -t %s, one TCP stream, between loopback addresses of two namespaces, through charon + kernel-libipsec (TUN) in each", dur)})
	return out, nil
}
