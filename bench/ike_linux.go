package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// Scenario 6 runs two ike.Engines over real UDP sockets in two lab
// namespaces: an esphub responder (the hub) on one address, and our load
// generator, an esphub initiator engine bound to ikeSources addresses that
// opens sessions (IKE_SA_INIT + IKE_AUTH with PSK + the first Child SA)
// from ikeWorkers goroutines at once, each session with its own identity.

const (
	ikeSources = 64
	ikeWorkers = 64
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

func startIKE(ns string, addrs []netip.Addr, pol ike.Policy, log *slog.Logger) (*ikeEngine, error) {
	tr, err := transport.ListenUDP(transport.UDPConfig{Addrs: addrs, NetNS: ns, ReadBuffer: 4 << 20, WriteBuffer: 4 << 20, QueueLen: 8192, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("ike transport: %w", err)
	}
	e, err := ike.New(ike.Config{Transport: tr, Policy: pol, Logger: log, RetransmitTimeout: time.Second, RetransmitTries: 6, HalfOpenTimeout: time.Minute})
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("ike engine: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &ikeEngine{e: e, tr: tr, cancel: cancel, done: make(chan struct{})}
	go func() { _ = e.Run(ctx); close(x.done) }()
	return x, nil
}

func (x *ikeEngine) stop() {
	x.cancel()
	<-x.done
	x.tr.Close()
}

// ikePair starts a responder with proposal prop and an initiator.
func (l *ikeLab) pair(prop suite.Proposal, log *slog.Logger) (resp, init *ikeEngine, err error) {
	pol := &benchPolicy{props: []suite.Proposal{prop}, profile: &ike.Profile{
		Name: "hub", LocalID: ike.IdentityFQDN("hub.bench"), LocalPSK: ikePSK, RemotePSK: ikePSK,
		Child: ike.ChildConfig{Name: "net", Proposals: ikeESP, LocalTS: []ike.TrafficSelector{ike.TSAny4}, RemoteTS: []ike.TrafficSelector{ike.TSAny4}},
	}}
	if resp, err = startIKE(l.nsR, []netip.Addr{l.responder}, pol, log); err != nil {
		return nil, nil, err
	}
	if init, err = startIKE(l.nsI, l.sources, &benchPolicy{props: []suite.Proposal{prop}}, log); err != nil {
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
		go func() {
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
		}()
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
		resp, init, err := l.pair(prop, warnOnly(o.Logger))
		if err != nil {
			return out, err
		}
		var seq atomic.Uint64
		var rates []float64
		var failures uint64
		var lastErr error
		// Warm-up: a few sessions so that ARP, sockets and the engines settle.
		if ok, _, err := l.openSessions(ctx, init, prop, 8, time.Time{}, &seq); ok == 0 {
			init.stop()
			resp.stop()
			return out, fmt.Errorf("ike %s: no session came up: %w", name, err)
		}
		for range o.Runs {
			start := time.Now()
			ok, failed, err := l.openSessions(ctx, init, prop, 0, start.Add(dur), &seq)
			rates = append(rates, float64(ok)/time.Since(start).Seconds())
			failures += failed
			if err != nil {
				lastErr = err
			}
		}
		init.stop()
		resp.stop()
		r := Result{Scenario: ScenarioIKE, Path: PathIKEHandshakes, Param: name, Value: Summarize(rates), Unit: "sessions/s", Runs: len(rates),
			Harness: fmt.Sprintf("esphub ike.Engine responder and our initiator load generator (an ike.Engine, %d concurrent sessions from %d source addresses) over UDP in two namespaces, PSK, IKE_SA_INIT + IKE_AUTH + first Child SA (AES-256-GCM ESP)", ikeWorkers, ikeSources),
			Note:    fmt.Sprintf("Both engines run in this process on the machine's %d cores: the generator does the same DH and PRF work as the responder, so it takes about half the CPU, and the figures understate what a responder alone on 2 cores accepts (the generator is a bottleneck here).", runtime.NumCPU())}
		if failures > 0 {
			r.Note += fmt.Sprintf(" %d session attempts failed (last: %v).", failures, lastErr)
		}
		out = append(out, r)
	}
	return out, nil
}

// ikeMemory is scenario 6b: the responder's heap per established session
// at each count in o.Sessions. The initiator is stopped and collected
// before the measurement so that only the responder's state remains; the
// heap is then compared with the heap once the responder is gone too (the
// generator's freed memory would make a baseline taken before the
// sessions meaningless).
func ikeMemory(ctx context.Context, o *Options) ([]Result, error) {
	l, err := newIKELab()
	if err != nil {
		return nil, err
	}
	defer l.lab.Close()
	prop := ikeProposals["ecp256"]
	var out []Result
	for _, n := range o.Sessions {
		resp, init, err := l.pair(prop, warnOnly(o.Logger))
		if err != nil {
			return out, err
		}
		var seq atomic.Uint64
		start := time.Now()
		// Filling is bounded so that a slow machine still gets a report;
		// the row then says how many sessions were up.
		limit := 4 * time.Minute
		if o.Quick {
			limit = 20 * time.Second
		}
		o.Logger.Info("filling sessions", "target", n, "limit", limit)
		ok, _, lastErr := l.openSessions(ctx, init, prop, n, time.Now().Add(limit), &seq)
		took := time.Since(start)
		init.stop()
		init = nil
		// The count is taken even when ctx was cancelled mid-fill, so that
		// an interrupted run still reports the sessions it had.
		qctx, qcancel := context.WithTimeout(context.Background(), time.Minute)
		sas, err := resp.e.IKESAs(qctx)
		qcancel()
		up := 0
		for _, sa := range sas {
			if sa.State == "READY" {
				up++
			}
		}
		sas = nil
		withSAs := heapInUse()
		resp.stop()
		resp = nil
		empty := heapInUse()
		if err != nil {
			return out, fmt.Errorf("responder SAs: %w", err)
		}
		if up == 0 {
			return out, fmt.Errorf("memory at %d sessions: none established: %v", n, lastErr)
		}
		per := (float64(withSAs) - float64(empty)) / float64(up)
		param := fmt.Sprintf("%d sessions", n)
		if up != n {
			param = fmt.Sprintf("%d sessions (of %d asked)", up, n)
		}
		r := Result{Scenario: ScenarioIKE, Path: PathSessionMemory, Param: param, Value: Summarize([]float64{per}), Unit: "bytes/session", Runs: 1,
			Harness: "runtime.MemStats.HeapInuse after GC with the sessions established (initiator engine already stopped and collected), minus the same after the responder is stopped too, divided by the responder's READY IKE SAs; so the responder engine's fixed overhead is spread over the sessions; IKE engine state only (no dataplane SAs: the daemon that installs them is not on main yet)",
			Note:    fmt.Sprintf("Sessions came up at %.0f/s while filling.", float64(ok)/took.Seconds())}
		if up != n {
			r.Note += fmt.Sprintf(" %d of %d sessions were up at the measurement.", up, n)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no session count given")
	}
	return out, nil
}

// heapInUse returns HeapInuse after two collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
