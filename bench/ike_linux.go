package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// Scenario 6 runs over real UDP sockets in two lab namespaces: the hub is
// esphubd's control process (control.Daemon with its IKE engine, sessions,
// Virtual-Access interfaces and a dataplane engine holding every tunnel and
// SA) configured as a FlexVPN server, and our load generator is an esphub
// initiator engine bound to ikeSources addresses that opens sessions
// (IKE_SA_INIT + IKE_AUTH with PSK + the first Child SA) from ikeWorkers
// goroutines at once, each session with its own identity.

const (
	ikeSources = 64
	ikeWorkers = 64

	// Short retransmission and half-open limits: a stopped engine stays
	// reachable (all its SAs with it) until its last pending timer has
	// fired, and the memory measurement waits that out (ikeTimersDone).
	ikeRetransmit = time.Second
	ikeTries      = 3
	ikeHalfOpen   = 10 * time.Second
	// ikeTimersDone is how long after an engine stops its timers may
	// still fire: the half-open limit, or the retransmissions (1+2+4 s).
	ikeTimersDone = ikeHalfOpen + 2*time.Second
)

var (
	ikeProposals = map[string]suite.Proposal{
		"ecp256":   {Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256},
		"modp2048": {Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256, DH: wire.DHMODP2048},
	}
	ikeESP = []suite.Proposal{{Encr: wire.EncrAESGCM16, KeyBits: 256}}
	ikePSK = []byte("esphub-bench-ike-psk-0123456789")
)

// benchPolicy is the responder's policy: one proposal, one profile for
// every spoke identity.
type benchPolicy struct {
	props   []suite.Proposal
	profile *ike.Profile
}

func (p *benchPolicy) ResponderIKE(local, remote netip.AddrPort) ([]suite.Proposal, error) {
	return p.props, nil
}

func (p *benchPolicy) MatchProfile(req ike.ProfileRequest) (*ike.Profile, error) {
	return p.profile, nil
}

// ikeLab is the two namespaces with the initiator's many source addresses.
type ikeLab struct {
	lab       *netLab
	nsI, nsR  string
	sources   []netip.Addr
	responder netip.Addr
}

func newIKELab() (*ikeLab, error) {
	lab, err := newNetLab("ike")
	if err != nil {
		return nil, err
	}
	l := &ikeLab{lab: lab}
	fail := func(err error) (*ikeLab, error) {
		lab.Close()
		return nil, err
	}
	if l.nsI, err = lab.ns("init"); err != nil {
		return fail(err)
	}
	if l.nsR, err = lab.ns("resp"); err != nil {
		return fail(err)
	}
	// 198.18.120.0/22: the responder is .1, the initiator's sources
	// 198.18.121.0 upwards.
	i, r, err := lab.veth(l.nsI, "ii", l.nsR, "ir", 120)
	if err != nil {
		return fail(err)
	}
	_ = i
	l.responder = r.ip4
	for k := range ikeSources {
		a := netip.AddrFrom4([4]byte{198, 18, 121, byte(k)})
		if err := ipRun("-n", l.nsI, "addr", "add", a.String()+"/32", "dev", "ii"); err != nil {
			return fail(err)
		}
		l.sources = append(l.sources, a)
	}
	// The responder reaches the sources on the link.
	if err := ipRun("-n", l.nsR, "route", "add", "198.18.121.0/24", "dev", "ir"); err != nil {
		return fail(err)
	}
	if err := ipRun("-n", l.nsI, "neigh", "flush", "all"); err != nil {
		return fail(err)
	}
	return l, nil
}

// ikeEngine is a running engine with its transport.
type ikeEngine struct {
	e      *ike.Engine
	tr     *transport.UDP
	cancel context.CancelFunc
	done   chan struct{}
}

// startIKE starts an engine whose goroutines (transport readers, engine
// loop) carry the pprof label role=role, so that a CPU profile of the run
// (esphub-bench -cpuprofile) tells the load generator from the hub.
func startIKE(role string, ns string, addrs []netip.Addr, pol ike.Policy, log *slog.Logger) (x *ikeEngine, err error) {
	pprof.Do(context.Background(), pprof.Labels("role", role), func(context.Context) {
		x, err = startIKEUnlabelled(ns, addrs, pol, log)
	})
	return x, err
}

func startIKEUnlabelled(ns string, addrs []netip.Addr, pol ike.Policy, log *slog.Logger) (*ikeEngine, error) {
	tr, err := transport.ListenUDP(transport.UDPConfig{Addrs: addrs, NetNS: ns, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, QueueLen: 8192, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("ike transport: %w", err)
	}
	e, err := ike.New(ike.Config{Transport: tr, Policy: pol, Logger: log, RetransmitTimeout: ikeRetransmit, RetransmitTries: ikeTries, HalfOpenTimeout: ikeHalfOpen})
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("ike engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &ikeEngine{e: e, tr: tr, cancel: cancel, done: make(chan struct{})}
	go func() { _ = e.Run(ctx); close(x.done) }()
	return x, nil
}

// up returns the engine's IKE SAs in state READY.
func (x *ikeEngine) up() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sas, err := x.e.IKESAs(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, sa := range sas {
		if sa.State == "READY" {
			n++
		}
	}
	return n
}

func (x *ikeEngine) stop() {
	x.cancel()
	<-x.done
	x.tr.Close()
}

// pair starts the hub (esphubd's control.Daemon) accepting proposal name
// and the initiator load generator.
func (l *ikeLab) pair(name string, log *slog.Logger) (resp *hubDaemon, init *ikeEngine, err error) {
	if resp, err = startHub(l.nsR, l.responder, name, log); err != nil {
		return nil, nil, err
	}
	if init, err = startIKE("generator", l.nsI, l.sources, &benchPolicy{props: []suite.Proposal{ikeProposals[name]}}, log); err != nil {
		resp.stop()
		return nil, nil, err
	}
	return resp, init, nil
}

// openSessions runs ikeWorkers goroutines opening sessions until n have
// been established (n > 0) or deadline passes (when not zero), and returns the
// successes and failures and the last error.
func (l *ikeLab) openSessions(ctx context.Context, init *ikeEngine, prop suite.Proposal, n int, deadline time.Time, seq *atomic.Uint64) (ok, failed uint64, lastErr error) {
	var wg sync.WaitGroup
	var okN, failN atomic.Uint64
	var claimed atomic.Int64
	var errMu sync.Mutex
	for w := range ikeWorkers {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("role", "generator"), func(ctx context.Context) {
			defer wg.Done()
			for ctx.Err() == nil {
				if n > 0 && claimed.Add(1) > int64(n) {
					return
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				id := seq.Add(1)
				src := l.sources[(int(id)+w)%len(l.sources)]
				prof := &ike.Profile{
					Name: "spoke", LocalID: ike.IdentityFQDN(fmt.Sprintf("spoke-%d.bench", id)), LocalPSK: ikePSK, RemotePSK: ikePSK,
					IKEProposals: []suite.Proposal{prop},
					Child:        ike.ChildConfig{Name: "net", Proposals: ikeESP, LocalTS: []ike.TrafficSelector{ike.TSAny4}, RemoteTS: []ike.TrafficSelector{ike.TSAny4}},
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := init.e.Initiate(cctx, ike.InitiateRequest{
					Local: netip.AddrPortFrom(src, 500), Remote: netip.AddrPortFrom(l.responder, 500), Profile: prof})
				cancel()
				if err != nil {
					failN.Add(1)
					errMu.Lock()
					lastErr = err
					errMu.Unlock()
					if n > 0 {
						claimed.Add(-1) // try again
					}
					if failN.Load() > 1000 && okN.Load() == 0 {
						return
					}
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	return okN.Load(), failN.Load(), lastErr
}

// ikeHandshakes is scenario 6a: sessions per second for each proposal.
func ikeHandshakes(ctx context.Context, o *Options) ([]Result, error) {
	l, err := newIKELab()
	if err != nil {
		return nil, err
	}
	defer l.lab.Close()
	dur := max(o.Duration, time.Second)
	if !o.Quick {
		dur = max(dur, 3*time.Second)
	}
	var out []Result
	for _, name := range []string{"ecp256", "modp2048"} {
		if o.Quick && name != "ecp256" {
			continue
		}
		prop := ikeProposals[name]
		var seq atomic.Uint64
		var rates, cores, perSession []float64
		var failures uint64
		var lastErr error
		// Each run starts on a fresh hub: sessions accumulated by earlier
		// runs would slow the later ones (see the memory rows).
		for range o.Runs {
			resp, init, err := l.pair(name, warnOnly(o.Logger))
			if err != nil {
				return out, err
			}
			// Warm-up: a few sessions so that ARP, sockets and the engines settle.
			if ok, _, err := l.openSessions(ctx, init, prop, 8, time.Time{}, &seq); ok == 0 {
				init.stop()
				resp.stop()
				return out, fmt.Errorf("ike %s: no session came up: %w", name, err)
			}
			start, cpu0 := time.Now(), processCPU()
			ok, failed, err := l.openSessions(ctx, init, prop, 0, start.Add(dur), &seq)
			wall, cpu := time.Since(start), processCPU()-cpu0
			rates = append(rates, float64(ok)/wall.Seconds())
			cores = append(cores, cpu.Seconds()/wall.Seconds())
			if ok > 0 {
				perSession = append(perSession, float64(cpu.Microseconds())/float64(ok))
			}
			failures += failed
			if err != nil {
				lastErr = err
			}
			init.stop()
			resp.stop()
		}
		r := Result{Scenario: ScenarioIKE, Path: PathIKEHandshakes, Param: name, Value: Summarize(rates), Unit: "sessions/s", Runs: len(rates),
			Harness: fmt.Sprintf("hub: esphubd's control process (control.Daemon: IKE engine, session and Virtual-Access per spoke, dataplane tunnel and SAs installed) as a FlexVPN server with virtual-template; load generator: our initiator (an ike.Engine, %d concurrent sessions from %d source addresses); UDP in two namespaces, PSK, IKE_SA_INIT + IKE_AUTH + first Child SA (AES-256-GCM ESP)", ikeWorkers, ikeSources),
			Note:    fmt.Sprintf("Hub and generator run in this process and share the machine's %d cores (with anything else running on it): the generator's share of the CPU is CPU the hub did not get.", runtime.NumCPU())}
		if len(perSession) > 0 {
			r.Note += fmt.Sprintf(" The process (hub and generator together) used %.2f of the %d cores and %.0f µs of CPU per session (medians of the runs); a CPU profile (esphub-bench -cpuprofile, goroutines labelled role=hub and role=generator) splits the two.",
				Summarize(cores).Median, runtime.NumCPU(), Summarize(perSession).Median)
		}
		if failures > 0 {
			r.Note += fmt.Sprintf(" %d session attempts failed (last: %v).", failures, lastErr)
		}
		out = append(out, r)
	}
	return out, nil
}

// ikeMemory is scenario 6b: heap per established session at each count
// in o.Sessions, for esphubd's hub (control.Daemon with its dataplane
// engine) and for the IKE engine alone. One hub is filled step by step to
// each count. The baseline is the heap with the hub and the load generator
// running and no session; at each count the generator (whose per-session
// state would otherwise count) is stopped and collected first, so the
// difference is the hub's per-session state (the generator's small fixed
// part, gone too, makes it a little smaller).
func ikeMemory(ctx context.Context, o *Options) ([]Result, error) {
	l, err := newIKELab()
	if err != nil {
		return nil, err
	}
	defer l.lab.Close()
	limit := 4 * time.Minute
	if o.Quick {
		limit = 20 * time.Second
	}
	hub, hubErr := l.fillMemory(ctx, o, true, limit)
	eng, engErr := l.fillMemory(ctx, o, false, limit)
	return append(hub, eng...), errors.Join(hubErr, engErr)
}

// memResponder is the hub under measurement: esphubd's control process or
// a bare IKE engine.
type memResponder interface {
	up() int
	stop()
}

// fillMemory measures one responder kind over o.Sessions.
func (l *ikeLab) fillMemory(ctx context.Context, o *Options, daemon bool, limit time.Duration) ([]Result, error) {
	prop := ikeProposals["ecp256"]
	log := warnOnly(o.Logger)
	var resp memResponder
	path, harness := PathSessionMemory, "esphubd's hub: control.Daemon (IKE SA, session, Virtual-Access interface) with its dataplane engine holding each session's tunnel and both SAs (no I/O buffers)"
	if daemon {
		h, err := startHub(l.nsR, l.responder, "ecp256", log)
		if err != nil {
			return nil, err
		}
		resp = h
	} else {
		pol := &benchPolicy{props: []suite.Proposal{prop}, profile: &ike.Profile{
			Name: "hub", LocalID: ike.IdentityFQDN("hub.bench"), LocalPSK: ikePSK, RemotePSK: ikePSK,
			Child: ike.ChildConfig{Name: "net", Proposals: ikeESP, LocalTS: []ike.TrafficSelector{ike.TSAny4}, RemoteTS: []ike.TrafficSelector{ike.TSAny4}},
		}}
		e, err := startIKE("responder-engine", l.nsR, []netip.Addr{l.responder}, pol, log)
		if err != nil {
			return nil, err
		}
		resp = e
		path, harness = PathSessionMemoryIKE, "the IKE engine alone (ike.Engine responder, Child SAs not installed anywhere): the share of IKE state in the hub's"
	}
	defer resp.stop()
	// The baseline: the hub running with no session, once what earlier
	// scenarios' engines left has been collected.
	// A quick run does not wait for stopped engines' timers: its figures
	// only show that the measurement works.
	wait := ikeTimersDone
	if o.Quick {
		wait = 0
	}
	base, settled := heapSettled(wait)
	if !settled {
		o.Logger.Warn("heap still shrinking at the baseline", "path", path)
	}
	var seq atomic.Uint64
	counts := slices.Sorted(slices.Values(o.Sessions))
	var out []Result
	budget := limit // fill time left (the waits for the heap do not count)
	full := false
	for _, n := range counts {
		if full {
			out = append(out, Result{Scenario: ScenarioIKE, Path: path, Param: fmt.Sprintf("%d sessions", n),
				Skipped: fmt.Sprintf("the fill stopped at %d sessions, at its %v limit", resp.up(), limit)})
			continue
		}
		// A fresh load generator per step, stopped before the
		// measurement so that its side of the sessions is not counted
		// (stopping it leaves the hub's sessions up: the hub runs no
		// liveness checks here).
		init, err := startIKE("generator", l.nsI, l.sources, &benchPolicy{props: []suite.Proposal{prop}}, log)
		if err != nil {
			return out, err
		}
		from := resp.up()
		o.Logger.Info("filling sessions", "path", path, "target", n, "up", from)
		// Sample the fill every 10 s: the rates at its start and its end
		// show whether setup slows as sessions accumulate.
		var samples []fillSample
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(10 * time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case now := <-tick.C:
					up := resp.up()
					samples = append(samples, fillSample{now, up})
					o.Logger.Info("filling", "up", up, "target", n)
				}
			}
		}()
		t0 := time.Now()
		_, _, lastErr := l.openSessions(ctx, init, prop, n-from, t0.Add(budget), &seq)
		close(stopSampling)
		<-sampled
		took := time.Since(t0)
		budget -= took
		init.stop()
		up := resp.up()
		full = up < n
		withSAs, settledN := heapSettled(wait)
		settled = settled && settledN
		if o.MemProfile != "" {
			if err := writeHeapProfile(fmt.Sprintf("%s-%s-%d.pprof", o.MemProfile, map[bool]string{true: "hub", false: "ike"}[daemon], up)); err != nil {
				o.Logger.Warn("heap profile", "err", err)
			}
		}
		if up == 0 {
			return out, fmt.Errorf("memory at %d sessions: none established: %v", n, lastErr)
		}
		per := (float64(withSAs) - float64(base)) / float64(up)
		param := fmt.Sprintf("%d sessions", n)
		if up != n {
			param = fmt.Sprintf("%d sessions (of %d asked)", up, n)
		}
		r := Result{Scenario: ScenarioIKE, Path: path, Param: param, Value: Summarize([]float64{per}), Unit: "bytes/session", Runs: 1,
			Harness: "one hub filled step by step by our load generator (a fresh one per step, stopped before the measurement); runtime.MemStats.HeapInuse after GC with the sessions established, minus the same with the hub running and no session, divided by the sessions up; " + harness,
			Note:    fmt.Sprintf("Sessions came up at %.0f/s filling from %d to %d.", float64(up-from)/took.Seconds(), from, up)}
		if len(samples) >= 2 {
			a, b := samples[0], samples[len(samples)-1]
			z := samples[len(samples)-2]
			r.Note += fmt.Sprintf(" Fill rate %.0f/s over its first 10 s, %.0f/s over its last sampled 10 s (%d → %d sessions).",
				float64(a.up-from)/a.at.Sub(t0).Seconds(), float64(b.up-z.up)/b.at.Sub(z.at).Seconds(), z.up, b.up)
		}
		if up != n {
			r.Note += fmt.Sprintf(" The fill reached %d of %d sessions in its %v limit.", up, n, limit)
		}
		if !settled {
			r.Note += " The heap was still shrinking after a minute at the baseline or at this measurement: memory of stopped engines may be mixed in."
		}
		out = append(out, r)
	}
	return out, nil
}

// fillSample is the number of sessions up at a moment of the fill.
type fillSample struct {
	at time.Time
	up int
}

// heapSettled returns HeapInuse once the timers of engines stopped just
// before (an earlier hub, a load generator) have fired, which keep them and
// all their state reachable until then, and the heap has stopped
// shrinking. It reports false when the heap still shrank by more than 1%
// a second after a minute more.
func heapSettled(wait time.Duration) (uint64, bool) {
	time.Sleep(wait)
	step := time.Second
	if wait == 0 {
		// A quick run (which does not wait for timers either): its
		// figures only show that the measurement works.
		step = 200 * time.Millisecond
	}
	prev := heapInUse()
	for range 60 {
		time.Sleep(step)
		h := heapInUse()
		if h >= prev || prev-h < prev/100 {
			return min(h, prev), true
		}
		prev = h
	}
	return prev, false
}

// writeHeapProfile writes the heap profile (as of the last collection) to
// file.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// heapInUse returns HeapInuse after two collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
