// Package s2s measures FlexVPN spoke-to-spoke shortcut formation with the
// real esphubd: a hub and two spokes in lab namespaces (by default
// lab/topologies/hub-3spokes-nat.yaml with examples/spoke-to-spoke), a
// continuous ping from the host behind one spoke to the host behind the
// other, and a capture on the first spoke's underlay interface that tells
// when the echoes leave the hub path for the direct spoke-to-spoke session.
//
// One Run is: ping (an echo every 10 ms, larger than any control message),
// the hub forwards and redirects, the spokes resolve and build the direct
// IKEv2 session, the echoes move to it. Between runs the World tears the
// spoke-to-spoke sessions down and flushes NHRP, and every run pings a fresh
// address of the far host, so that the hub's per-pair redirect rate limit
// never delays a run: each run is a cold start of the whole mechanism.
//
// It is shared by the e2e tests (issue 8) and esphub-bench (scenario 7,
// "spoke-to-spoke time to shortcut, median of ten"): Measure is the whole
// procedure. It needs root, Linux, ping and tcpdump; it never exits and logs
// only through Options.Logf.
package s2s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/lab"
)

// EchoSize is the ICMP payload of the measuring echoes: larger than any NHRP,
// IKE or liveness message, so that the capture tells data from control by
// length alone.
const EchoSize = 1000

// Options describe the world to measure in. Root and Esphubd are required.
type Options struct {
	// Root is the repository root: the topology comes from
	// Root/lab/topologies/<Topology>.yaml and the configurations from
	// Root/examples/<Examples>/<node>.cfg.
	Root string
	// Esphubd is the path of the esphubd binary to run on the routers.
	Esphubd string
	// Topology and Examples name the lab and the configurations
	// (default "hub-3spokes-nat" and "spoke-to-spoke").
	Topology, Examples string
	// Hub, From and To name the routers (default "hub", "spoke1", "spoke2");
	// FromHost and ToHost the hosts on their LANs (default "host1",
	// "host2"). Echoes go from FromHost to ToHost.
	Hub, From, To    string
	FromHost, ToHost string
	// ToLAN is ToHost's LAN as the shortcut route names it (default
	// 198.19.2.0/24); fresh target addresses are taken from its upper half.
	ToLAN netip.Prefix
	// Edit, if set, rewrites a router's configuration before it starts.
	Edit func(node, cfg string) string
	// Prefix names the lab's namespaces (default "s2s" plus the process ID,
	// so that concurrent measurements do not collide).
	Prefix string
	// Dir holds configurations, logs and captures (default: a temporary
	// directory removed by Close).
	Dir string
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

func (o *Options) defaults() error {
	if o.Root == "" || o.Esphubd == "" {
		return errors.New("s2s: Options.Root and Options.Esphubd are required")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Topology, "hub-3spokes-nat")
	def(&o.Examples, "spoke-to-spoke")
	def(&o.Hub, "hub")
	def(&o.From, "spoke1")
	def(&o.To, "spoke2")
	def(&o.FromHost, "host1")
	def(&o.ToHost, "host2")
	def(&o.Prefix, fmt.Sprintf("s2s%d", os.Getpid()%100000))
	if !o.ToLAN.IsValid() {
		o.ToLAN = netip.MustParsePrefix("198.19.2.0/24")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return nil
}

// Run is one measured shortcut formation.
type Run struct {
	// Switch is the time from the first echo (sent towards the hub) to the
	// first echo on the direct path, from the capture on the From spoke's
	// underlay.
	Switch time.Duration
	// ViaHub is how many echoes the From spoke sent to the hub before the
	// first direct one.
	ViaHub int
	// Target is the address pinged.
	Target netip.Addr
}

// Result is a series of runs.
type Result struct {
	Runs []Run
}

// Switches returns the runs' switch times, sorted.
func (r Result) Switches() []time.Duration {
	out := make([]time.Duration, len(r.Runs))
	for i, x := range r.Runs {
		out[i] = x.Switch
	}
	slices.Sort(out)
	return out
}

// Median returns the median switch time and the median number of echoes
// through the hub (each the middle of its own sorted series; the mean of the
// two middle values for an even count).
func (r Result) Median() (time.Duration, int) {
	if len(r.Runs) == 0 {
		return 0, 0
	}
	sw := r.Switches()
	hub := make([]int, len(r.Runs))
	for i, x := range r.Runs {
		hub[i] = x.ViaHub
	}
	slices.Sort(hub)
	m := len(sw) / 2
	if len(sw)%2 == 1 {
		return sw[m], hub[m]
	}
	return (sw[m-1] + sw[m]) / 2, (hub[m-1] + hub[m]) / 2
}

// Max returns the slowest run's switch time and the largest number of
// echoes through the hub.
func (r Result) Max() (time.Duration, int) {
	var d time.Duration
	n := 0
	for _, x := range r.Runs {
		d, n = max(d, x.Switch), max(n, x.ViaHub)
	}
	return d, n
}

// String is a one-line summary: median, max and every run in order.
func (r Result) String() string {
	med, medHub := r.Median()
	mx, mxHub := r.Max()
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs: median %v (%d echoes via the hub), max %v (%d); runs:", len(r.Runs),
		med.Round(time.Millisecond), medHub, mx.Round(time.Millisecond), mxHub)
	for _, x := range r.Runs {
		fmt.Fprintf(&b, " %v/%d", x.Switch.Round(time.Millisecond), x.ViaHub)
	}
	return b.String()
}

// Measure starts a World, measures runs shortcut formations and closes it.
// The bench's scenario 7 is Measure with runs = 10, reported by Median.
func Measure(ctx context.Context, o Options, runs int) (Result, error) {
	w, err := Start(ctx, o)
	if err != nil {
		return Result{}, err
	}
	defer w.Close()
	return w.Measure(ctx, runs)
}

// World is a running lab with esphubd on the hub and both spokes, sessions
// to the hub up. Its methods are not safe for concurrent use.
type World struct {
	o       Options
	lab     *lab.Lab
	dir     string
	tempDir bool
	ctx     context.Context
	cancel  context.CancelFunc
	daemons map[string]*daemon
	hubWAN  netip.Addr
	fromWAN netip.Addr
	next    int // next target address index
}

type daemon struct {
	name, cfg, sock, log string
	cmd                  *exec.Cmd
	done                 chan struct{}
}

// Start builds the lab, starts esphubd on the hub and both spokes and waits
// until both spokes have their session to the hub and a route to ToLAN.
func Start(ctx context.Context, o Options) (_ *World, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	spec, err := lab.Load(filepath.Join(o.Root, "lab", "topologies", o.Topology+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("s2s: %w", err)
	}
	w := &World{o: o, dir: o.Dir, daemons: map[string]*daemon{}}
	if w.dir == "" {
		if w.dir, err = os.MkdirTemp("", "esphub-s2s"); err != nil {
			return nil, fmt.Errorf("s2s: %w", err)
		}
		w.tempDir = true
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	_ = lab.DownPrefix(o.Prefix) // leftovers of a crashed run
	if w.lab, err = lab.Up(ctx, spec, lab.Options{Prefix: o.Prefix}); err != nil {
		return nil, fmt.Errorf("s2s: lab up: %w", err)
	}
	w.hubWAN, w.fromWAN = w.lab.Addr4(o.Hub, "wan"), w.lab.Addr4(o.From, "wan")
	if !w.hubWAN.IsValid() || !w.fromWAN.IsValid() {
		return nil, fmt.Errorf("s2s: %s and %s need an IPv4 address on interface wan", o.Hub, o.From)
	}
	for _, n := range []string{o.Hub, o.From, o.To} {
		b, err := os.ReadFile(filepath.Join(o.Root, "examples", o.Examples, n+".cfg"))
		if err != nil {
			return nil, fmt.Errorf("s2s: %w", err)
		}
		cfg := string(b)
		if o.Edit != nil {
			cfg = o.Edit(n, cfg)
		}
		d := &daemon{name: n, cfg: filepath.Join(w.dir, n+".cfg"), sock: filepath.Join(w.dir, n+".sock"), log: filepath.Join(w.dir, n+".log")}
		if err := os.WriteFile(d.cfg, []byte(cfg), 0o644); err != nil {
			return nil, fmt.Errorf("s2s: %w", err)
		}
		w.daemons[n] = d
		if err := w.startDaemon(d); err != nil {
			return nil, err
		}
	}
	for _, n := range []string{o.From, o.To} {
		if err := w.poll(ctx, 60*time.Second, n+" route to "+o.ToLAN.String()+" through the hub", func() (bool, error) {
			rows, err := w.routes(ctx, n)
			if err != nil {
				return false, nil // the daemon may still be starting
			}
			for _, r := range rows {
				if r.Prefix.Contains(o.ToLAN.Addr()) && r.Source != "nhrp" && r.Source != "connected" && r.Prefix.Bits() < o.ToLAN.Bits() {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			return nil, err
		}
	}
	// Neighbour resolution on both LANs, so that the first echo of a run
	// waits for nothing but the VPN.
	if err := w.pingOnce(ctx, o.ToHost, o.ToLAN.Addr().Next()); err != nil {
		return nil, err
	}
	if err := w.pingOnce(ctx, o.FromHost, w.lanGateway(o.FromHost)); err != nil {
		return nil, err
	}
	return w, nil
}

// lanGateway returns the IPv4 default gateway of a host of the spec.
func (w *World) lanGateway(host string) netip.Addr {
	for _, n := range w.lab.Spec().Nodes {
		if n.Name != host {
			continue
		}
		for _, r := range n.Routes {
			if r.Via.Is4() {
				return r.Via
			}
		}
	}
	return netip.Addr{}
}

func (w *World) pingOnce(ctx context.Context, from string, to netip.Addr) error {
	var out []byte
	var err error
	for range 5 {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err = w.lab.Exec(c, from, "ping", "-n", "-c", "1", "-W", "2", to.String())
		cancel()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("s2s: ping %s -> %v: %v\n%s", from, to, err, out)
}

// Lab returns the running lab.
func (w *World) Lab() *lab.Lab { return w.lab }

// Dir returns the directory with configurations, logs and captures.
func (w *World) Dir() string { return w.dir }

// LogTail returns the last lines of a router's esphubd log.
func (w *World) LogTail(node string, lines int) string {
	d := w.daemons[node]
	if d == nil {
		return ""
	}
	b, _ := os.ReadFile(d.log)
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Close stops the daemons and removes the lab (and the directory, if Start
// made it).
func (w *World) Close() {
	for _, d := range w.daemons {
		w.stopDaemon(d)
	}
	if w.cancel != nil {
		w.cancel()
	}
	if w.lab != nil {
		_ = w.lab.Down()
	}
	if w.tempDir {
		_ = os.RemoveAll(w.dir)
	}
}

func (w *World) startDaemon(d *daemon) error {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("s2s: %w", err)
	}
	d.cmd = w.lab.Command(w.ctx, d.name, w.o.Esphubd, "-config", d.cfg, "-api", d.sock, "-backend", "portable", "-log-level", "debug")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("s2s: start esphubd on %s: %w", d.name, err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}(d.cmd, d.done)
	return nil
}

func (w *World) stopDaemon(d *daemon) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// Exec runs an esphubctl command on a router's daemon and decodes its JSON
// answer into out (unless out is nil).
func (w *World) Exec(ctx context.Context, node string, out any, words ...string) error {
	d := w.daemons[node]
	if d == nil {
		return fmt.Errorf("s2s: no daemon on %s", node)
	}
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := api.NewClient(d.sock).Exec(c, words, "json")
	if err != nil {
		return fmt.Errorf("%s: %s: %w", node, strings.Join(words, " "), err)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(s), out)
}

// Text runs an esphubctl command and returns its text output (or the error).
func (w *World) Text(ctx context.Context, node string, words ...string) string {
	d := w.daemons[node]
	if d == nil {
		return "no daemon on " + node
	}
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := api.NewClient(d.sock).Exec(c, words, "text")
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// RouteRow is a row of `show ip route` as JSON.
type RouteRow struct {
	Prefix   netip.Prefix `json:"prefix"`
	Source   string       `json:"source"`
	NextHops []struct {
		Interface string `json:"interface"`
	} `json:"next_hops"`
}

func (w *World) routes(ctx context.Context, node string) ([]RouteRow, error) {
	var rows []RouteRow
	err := w.Exec(ctx, node, &rows, "show", "ip", "route")
	return rows, err
}

// HasShortcut reports whether node has an NHRP route for exactly p through
// a Virtual-Access.
func (w *World) HasShortcut(ctx context.Context, node string, p netip.Prefix) (bool, error) {
	words := []string{"show", "ip", "route"}
	if p.Addr().Is6() {
		words[1] = "ipv6"
	}
	var rows []RouteRow
	if err := w.Exec(ctx, node, &rows, words...); err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.Prefix == p && r.Source == "nhrp" && len(r.NextHops) > 0 && strings.HasPrefix(r.NextHops[0].Interface, "Virtual-Access") {
			return true, nil
		}
	}
	return false, nil
}

// SessionRow is a row of `show crypto session` as JSON.
type SessionRow struct {
	Interface string         `json:"interface"`
	Status    string         `json:"status"`
	Peer      netip.AddrPort `json:"peer"`
	RemoteID  string         `json:"remote_id"`
}

// Sessions returns a router's crypto sessions.
func (w *World) Sessions(ctx context.Context, node string) ([]SessionRow, error) {
	var rows []SessionRow
	err := w.Exec(ctx, node, &rows, "show", "crypto", "session")
	return rows, err
}

// spokeSessions returns a spoke's spoke-to-spoke sessions (Virtual-Access
// interfaces: a spoke's session to the hub is its Tunnel).
func (w *World) spokeSessions(ctx context.Context, node string) ([]SessionRow, error) {
	rows, err := w.Sessions(ctx, node)
	if err != nil {
		return nil, err
	}
	var out []SessionRow
	for _, r := range rows {
		if strings.HasPrefix(r.Interface, "Virtual-Access") {
			out = append(out, r)
		}
	}
	return out, nil
}

// Reset removes the spoke-to-spoke sessions and the NHRP state of both
// spokes and waits until neither has a Virtual-Access left, so that the
// next run starts cold.
func (w *World) Reset(ctx context.Context) error {
	for _, n := range []string{w.o.From, w.o.To} {
		rows, err := w.spokeSessions(ctx, n)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := w.Exec(ctx, n, nil, "clear", "crypto", "session", "remote", r.Peer.Addr().String()); err != nil {
				return err
			}
		}
	}
	if err := w.poll(ctx, 30*time.Second, "spoke-to-spoke sessions gone", func() (bool, error) {
		for _, n := range []string{w.o.From, w.o.To} {
			rows, err := w.spokeSessions(ctx, n)
			if err != nil || len(rows) > 0 {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, n := range []string{w.o.From, w.o.To} {
		for _, f := range []string{"ip", "ipv6"} {
			if err := w.Exec(ctx, n, nil, "clear", f, "nhrp"); err != nil {
				return err
			}
		}
	}
	return nil
}

// Measure runs Shortcut runs times, resetting before each run.
func (w *World) Measure(ctx context.Context, runs int) (Result, error) {
	var res Result
	for i := range runs {
		if err := w.Reset(ctx); err != nil {
			return res, err
		}
		r, err := w.Shortcut(ctx)
		if err != nil {
			return res, fmt.Errorf("run %d: %w", i+1, err)
		}
		w.o.Logf("s2s run %d: %v, %d echoes via the hub (target %v)", i+1, r.Switch.Round(time.Millisecond), r.ViaHub, r.Target)
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

// target returns a fresh address on ToHost: a new source/destination pair
// for the hub's redirect rate limit.
func (w *World) target(ctx context.Context) (netip.Addr, error) {
	lan := w.o.ToLAN
	a := lan.Addr()
	half := 1 << (a.BitLen() - lan.Bits() - 1)
	w.next++
	if w.next >= half-1 {
		return netip.Addr{}, errors.New("s2s: out of fresh target addresses")
	}
	for range half + w.next {
		a = a.Next()
	}
	out, err := w.lab.Exec(ctx, w.o.ToHost, "ip", "addr", "add", netip.PrefixFrom(a, lan.Bits()).String(), "dev", "eth0")
	if err != nil && !strings.Contains(string(out), "File exists") {
		return netip.Addr{}, fmt.Errorf("s2s: add %v on %s: %v: %s", a, w.o.ToHost, err, out)
	}
	return a, nil
}

// Shortcut measures one shortcut formation from cold: a continuous ping to
// a fresh target address until the From spoke has the shortcut and the
// capture shows echoes on the direct path.
func (w *World) Shortcut(ctx context.Context) (Run, error) {
	dst, err := w.target(ctx)
	if err != nil {
		return Run{}, err
	}
	capt, err := w.startCapture(ctx, w.o.From, "wan", "esp or udp port 4500")
	if err != nil {
		return Run{}, err
	}
	defer capt.stop()
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	ping := w.lab.Command(pctx, w.o.FromHost, "ping", "-n", "-i", "0.01", "-s", strconv.Itoa(EchoSize), "-W", "1", dst.String())
	var pingOut bytes.Buffer
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		return Run{}, fmt.Errorf("s2s: ping: %w", err)
	}
	defer func() { pcancel(); _ = ping.Wait() }()
	var run Run
	err = w.poll(ctx, 20*time.Second, "echoes on the direct path", func() (bool, error) {
		pkts, err := ESPPackets(capt.path)
		if err != nil {
			return false, err
		}
		var ok bool
		run, ok = SwitchFrom(pkts, w.fromWAN, w.hubWAN, EchoSize)
		return ok, nil
	})
	if err != nil {
		return Run{}, fmt.Errorf("%w\n%s: %s\n%s", err, w.o.From, w.Text(ctx, w.o.From, "show", "ip", "nhrp", "traffic"), w.LogTail(w.o.From, 20))
	}
	run.Target = dst
	return run, nil
}

// poll calls cond every 20 ms until it holds, returns an error, or timeout
// passes.
func (w *World) poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("s2s: %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s2s: %s: not within %v", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// capture is tcpdump in text mode on one node's interface.
type capture struct {
	path string
	stop func()
}

func (w *World) startCapture(ctx context.Context, node, iface, filter string) (*capture, error) {
	path := filepath.Join(w.dir, fmt.Sprintf("%s-%s-%d.txt", node, iface, w.next))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("s2s: %w", err)
	}
	cctx, cancel := context.WithCancel(w.ctx)
	stderr := &syncBuffer{}
	cmd := w.lab.Command(cctx, node, "tcpdump", "-i", iface, "-n", "-tt", "-l", "-U", filter)
	cmd.Stdout, cmd.Stderr = f, stderr
	if err := cmd.Start(); err != nil {
		cancel()
		f.Close()
		return nil, fmt.Errorf("s2s: tcpdump on %s: %w", node, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	var once sync.Once
	c := &capture{path: path, stop: func() { once.Do(func() { cancel(); <-done }) }}
	if err := w.poll(ctx, 10*time.Second, "tcpdump on "+node+" listening", func() (bool, error) {
		return strings.Contains(stderr.String(), "listening on"), nil
	}); err != nil {
		c.stop()
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return c, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ESPPacket is one ESP packet of a tcpdump text capture.
type ESPPacket struct {
	At       float64 // seconds since the epoch
	Src, Dst netip.Addr
	Length   int // as tcpdump prints it
}

// ESPPackets parses a `tcpdump -n -tt` text capture, keeping ESP packets
// (plain or UDP-encapsulated) of IPv4 underlays, lines such as
// "1700000000.123456 IP 198.18.1.2.4500 > 198.18.100.2.4500: UDP-encap: ESP(spi=...,seq=0x1), length 120".
func ESPPackets(path string) ([]ESPPacket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ESPPacket
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := ParseESPLine(sc.Text()); ok {
			out = append(out, p)
		}
	}
	return out, sc.Err()
}

// ParseESPLine parses one line of ESPPackets' format.
func ParseESPLine(line string) (ESPPacket, bool) {
	if !strings.Contains(line, "ESP(") {
		return ESPPacket{}, false
	}
	fs := strings.Fields(line)
	if len(fs) < 5 || fs[1] != "IP" || fs[3] != ">" {
		return ESPPacket{}, false
	}
	at, err := strconv.ParseFloat(fs[0], 64)
	if err != nil {
		return ESPPacket{}, false
	}
	src, ok1 := hostOf(fs[2])
	dst, ok2 := hostOf(strings.TrimSuffix(fs[4], ":"))
	if !ok1 || !ok2 {
		return ESPPacket{}, false
	}
	n := 0
	if i := strings.LastIndex(line, "length "); i >= 0 {
		n, _ = strconv.Atoi(strings.TrimSpace(line[i+len("length "):]))
	}
	return ESPPacket{At: at, Src: src, Dst: dst, Length: n}, true
}

// hostOf parses tcpdump's IPv4 "a.b.c.d" or "a.b.c.d.port".
func hostOf(s string) (netip.Addr, bool) {
	if strings.Count(s, ".") == 4 {
		s = s[:strings.LastIndex(s, ".")]
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

// SwitchFrom finds, among the packets a spoke (self) sent, the first
// echo-sized one to the hub and the first echo-sized one to any other
// address after it (the direct path), and counts the echoes to the hub
// in between. ok is false until both exist.
func SwitchFrom(pkts []ESPPacket, self, hub netip.Addr, minLen int) (Run, bool) {
	var first, direct float64
	viaHub := 0
	for _, p := range pkts {
		if p.Src != self || p.Length < minLen {
			continue
		}
		if p.Dst == hub {
			if first == 0 {
				first = p.At
			}
			if direct == 0 {
				viaHub++
			}
			continue
		}
		if direct == 0 && first != 0 {
			direct = p.At
		}
	}
	if first == 0 || direct == 0 {
		return Run{}, false
	}
	return Run{Switch: time.Duration((direct - first) * float64(time.Second)), ViaHub: viaHub}, true
}
