package ike

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/esphub/esphub/pki"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// Config configures an Engine. Transport and Policy are required; the other
// fields have defaults.
type Config struct {
	Transport transport.Transport
	Policy    Policy
	// Installer receives Child SAs; nil discards them (IKE-only use).
	Installer SAInstaller
	// OnEvent is called from the engine goroutine for every state change.
	// It must not block and must not call the Engine synchronously.
	OnEvent func(Event)
	Logger  *slog.Logger
	Clock   Clock
	Rand    io.Reader // nonces, SPIs, DH keys, IVs; crypto/rand by default

	// RetransmitTimeout is the first retransmission timeout (default 2 s);
	// each retry multiplies it by RetransmitBackoff (default 1.8) up to
	// RetransmitTries retransmissions (default 5), after which the IKE SA
	// is declared dead.
	RetransmitTimeout time.Duration
	RetransmitBackoff float64
	RetransmitTries   int
	// RetransmitMaxTimeout caps the back-off (default 60 s).
	RetransmitMaxTimeout time.Duration
	// WindowSize is the number of concurrent requests we accept from a peer
	// and announce with SET_WINDOW_SIZE (IOS "crypto ikev2 window size",
	// default 5).
	WindowSize uint32
	// HalfOpenTimeout removes responder SAs whose IKE_AUTH never comes
	// (default 30 s).
	HalfOpenTimeout time.Duration
	// CookieThreshold is the number of half-open SAs above which an
	// IKE_SA_INIT without a valid COOKIE is answered with a cookie
	// challenge (IOS "crypto ikev2 cookie-challenge"). Zero disables
	// cookies; a negative value demands them always.
	CookieThreshold int
	// MaxHalfOpen refuses new IKE_SA_INIT requests beyond this many
	// half-open SAs (IOS call admission control, "crypto ikev2 limit
	// max-in-negotiation-sa N incoming"); zero is unlimited.
	MaxHalfOpen int
	// CookieSecretLifetime is how long one cookie secret is issued before
	// it rotates (default 2 min); cookies of the previous secret stay
	// valid for one more lifetime.
	CookieSecretLifetime time.Duration
	// MaxHalfOpenPerSource caps the half-open SAs of one source address
	// (checked after the cookie, which proves the address); zero is
	// unlimited.
	MaxHalfOpenPerSource int
	// MaxSAs caps all IKE SAs, in any state ("crypto ikev2 limit
	// max-sa"); MaxInNegotiationOutgoing caps the SAs we are setting up
	// ("max-in-negotiation-sa N outgoing"). Zero is unlimited. Refused
	// IKE_SA_INIT requests are dropped unanswered; Initiate returns
	// ErrAdmission.
	MaxSAs                   int
	MaxInNegotiationOutgoing int
	// Trustpoints name the CAs we ask initiators for certificates from
	// (CERTREQ in our IKE_SA_INIT response), before any profile is known.
	Trustpoints []*pki.Trustpoint
	// FollowRedirects makes an initiator announce REDIRECT_SUPPORTED and
	// follow gateways' REDIRECTs (RFC 5685, IOS "crypto ikev2 redirect
	// client"), at most MaxRedirects times per Initiate (default 5).
	// Gateway-side redirects come from a Policy implementing Redirector.
	FollowRedirects bool
	MaxRedirects    int
	// MaxMessageSize drops larger datagrams unread (default 64 KiB). It
	// also bounds the bytes of one reassembled fragmented message.
	MaxMessageSize int
	// Fragmentation announces IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383) in
	// IKE_SA_INIT (IOS "crypto ikev2 fragmentation"); when the peer does
	// too, protected messages longer than FragmentMTU allows are sent as
	// SKF fragments. It affects SAs set up after the change only.
	Fragmentation bool
	// FragmentMTU is the size of the IP packet an IKE fragment may fill
	// (IOS "crypto ikev2 fragmentation mtu", 68-1500); zero means 576 for
	// IPv4 peers and 1280 for IPv6 peers.
	FragmentMTU int
	// FragmentTimeout drops a partly received fragmented message (default
	// 30 s); MaxFragments bounds its Total Fragments (default 64).
	FragmentTimeout time.Duration
	MaxFragments    int
	// SendFlexVPNVendorIDs adds FLEXVPN-SUPPORTED to IKE_SA_INIT and the
	// Cisco delete-reason and dynamic-route IDs (default true when zero;
	// set DisableCiscoVendorIDs to turn them off).
	DisableCiscoVendorIDs bool
}

// Errors an API call can return.
var (
	ErrClosed         = errors.New("ike engine stopped")
	ErrNoSA           = errors.New("no such IKE SA")
	ErrNoChildSA      = errors.New("no such Child SA")
	ErrTimeout        = errors.New("peer did not answer (retransmissions exhausted)")
	ErrDeleted        = errors.New("IKE SA deleted")
	ErrBusy           = errors.New("exchange already in progress")
	ErrAuthFailed     = errors.New("authentication failed")
	ErrNoProposal     = errors.New("no proposal chosen")
	ErrTSUnacceptable = errors.New("traffic selectors unacceptable")
)

// NotifyError is an exchange that failed because the peer answered with an
// error notify.
type NotifyError struct {
	Exchange string
	Notify   fmt.Stringer
	Code     uint16
}

func (e *NotifyError) Error() string {
	return fmt.Sprintf("%s: peer answered %v", e.Exchange, e.Notify)
}

// Engine runs IKEv2 for one daemon: many IKE SAs over one Transport,
// demultiplexed by SPI. Create it with New, start it with Run; the other
// methods are safe for concurrent use from any goroutine and hand their work
// to the Run goroutine, which owns every SA.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	rand  io.Reader

	calls   chan func()
	stopped chan struct{}
	stats   counters

	// Owned by the Run goroutine.
	sas              map[uint64]*ikeSA      // by our SPI
	halfOpen         map[halfOpenKey]*ikeSA // responder SAs by their IKE_SA_INIT's (peer, SPIi), for retransmissions
	halfOpenN        int                    // responder SAs still waiting for IKE_AUTH
	tombstones       map[uint64]*tombstone  // removed SAs' last answers, by our SPI
	vendorIDs        vidCache               // shared Vendor ID lists (natt.go)
	cookies          cookieJar              // cookie.go
	halfOpenBySource map[netip.Addr]int
	certRejects      certRejects // refused peer certificates by pki.Reason     // half-open SAs per peer address
	// deferred runs once the current event is handled (a response sent
	// before the requests it makes possible).
	deferred []func()
	idx      saIndexes // index.go
	// pskPads caches pre-shared keys' pad keys by PRF and key (auth.go).
	pskPads map[wire.PRFID]map[string][]byte
}

type halfOpenKey struct {
	remote netip.AddrPort
	spii   uint64
}

// New checks cfg and returns an Engine that is not yet running.
func New(cfg Config) (*Engine, error) {
	if cfg.Transport == nil {
		return nil, errors.New("ike: Config.Transport is required")
	}
	if cfg.Policy == nil {
		return nil, errors.New("ike: Config.Policy is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.RetransmitTimeout <= 0 {
		cfg.RetransmitTimeout = 2 * time.Second
	}
	if cfg.RetransmitBackoff < 1 {
		cfg.RetransmitBackoff = 1.8
	}
	if cfg.RetransmitMaxTimeout <= 0 {
		cfg.RetransmitMaxTimeout = time.Minute
	}
	if cfg.RetransmitTries <= 0 {
		cfg.RetransmitTries = 5
	}
	if cfg.WindowSize == 0 {
		cfg.WindowSize = 5
	}
	if cfg.CookieSecretLifetime <= 0 {
		cfg.CookieSecretLifetime = DefaultCookieSecretLifetime
	}
	if cfg.HalfOpenTimeout <= 0 {
		cfg.HalfOpenTimeout = 30 * time.Second
	}
	if cfg.MaxMessageSize <= 0 || cfg.MaxMessageSize > 65535 {
		cfg.MaxMessageSize = 65535
	}
	if cfg.FragmentMTU != 0 && (cfg.FragmentMTU < 68 || cfg.FragmentMTU > 65535) {
		return nil, fmt.Errorf("ike: fragmentation MTU %d out of range 68-65535", cfg.FragmentMTU)
	}
	if cfg.FragmentTimeout <= 0 {
		cfg.FragmentTimeout = DefaultFragmentTimeout
	}
	if cfg.MaxFragments <= 0 {
		cfg.MaxFragments = DefaultMaxFragments
	}
	e := &Engine{
		cfg:        cfg,
		log:        cfg.Logger,
		clock:      cfg.Clock,
		rand:       cfg.Rand,
		calls:      make(chan func(), 64),
		stopped:    make(chan struct{}),
		sas:        make(map[uint64]*ikeSA),
		halfOpen:   make(map[halfOpenKey]*ikeSA),
		tombstones: make(map[uint64]*tombstone),
	}
	e.idx.init()
	if err := e.initCookies(); err != nil {
		return nil, err
	}
	return e, nil
}

// Run processes datagrams, timers and API calls until ctx is cancelled or the
// transport fails. It returns ctx.Err() or the transport's error. Call it
// once. SAs are left as they are (no Deletes are sent); call DeleteAll first
// for an orderly shutdown. Run does not close the transport.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer close(e.stopped)
	pkts := make(chan transport.Packet, 64)
	rerr := make(chan error, 1)
	go func() {
		for {
			p, err := e.cfg.Transport.Recv(ctx)
			if err != nil {
				rerr <- err
				return
			}
			select {
			case pkts <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			e.shutdown()
			return ctx.Err()
		case err := <-rerr:
			e.shutdown()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("ike: receive: %w", err)
		case p := <-pkts:
			e.handlePacket(p)
		case f := <-e.calls:
			f()
		}
		e.runDeferred()
	}
}

// shutdown stops every timer so that nothing fires into a dead loop.
func (e *Engine) shutdown() {
	for _, sa := range e.sas {
		sa.stopTimers()
		sa.failTasks(ErrClosed)
	}
	for _, sa := range e.halfOpen {
		sa.stopTimers()
	}
}

// debugOn reports whether debug logs are wanted: their arguments (hex
// SPIs, proposal names) cost allocations on every handshake otherwise.
func (e *Engine) debugOn() bool { return e.log.Enabled(context.Background(), slog.LevelDebug) }

// later runs f on the Run goroutine once the current event is handled.
func (e *Engine) later(f func()) { e.deferred = append(e.deferred, f) }

func (e *Engine) runDeferred() {
	for len(e.deferred) > 0 {
		f := e.deferred[0]
		e.deferred = e.deferred[1:]
		f()
	}
	e.deferred = e.deferred[:0]
}

// post runs f on the Run goroutine. It reports false if the engine stopped.
func (e *Engine) post(f func()) bool {
	select {
	case e.calls <- f:
		return true
	case <-e.stopped:
		return false
	}
}

// call runs f on the Run goroutine and waits for it.
func (e *Engine) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	ok := e.post(func() { f(); close(done) })
	if !ok {
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stopped:
		return ErrClosed
	}
}

// afterFunc schedules f on the Run goroutine after d.
func (e *Engine) afterFunc(d time.Duration, f func()) Timer {
	return e.clock.AfterFunc(d, func() { e.post(f) })
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (e *Engine) Stats() Stats { return e.stats.snapshot() }

func (e *Engine) emit(ev Event) {
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent(ev)
	}
}

func (e *Engine) send(local, remote netip.AddrPort, b []byte) {
	e.stats.inc(CounterTxMessages)
	if err := e.cfg.Transport.Send(transport.Packet{Local: local, Remote: remote, Data: b}); err != nil {
		e.log.Debug("ike send failed", "remote", remote, "err", err)
	}
}

// newSPI returns a random IKE SPI that no SA of ours uses.
func (e *Engine) newSPI() (uint64, error) {
	var b [8]byte
	for {
		if _, err := io.ReadFull(e.rand, b[:]); err != nil {
			return 0, fmt.Errorf("spi: %w", err)
		}
		spi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
		if spi != 0 && e.sas[spi] == nil {
			return spi, nil
		}
	}
}

// newChildSPI returns a random ESP SPI (>= 256, RFC 4303 §2.1) that no Child
// SA of ours uses inbound.
func (e *Engine) newChildSPI() (uint32, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(e.rand, b[:]); err != nil {
			return 0, fmt.Errorf("spi: %w", err)
		}
		spi := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if spi < 256 {
			continue
		}
		if _, used := e.idx.childSPIs[spi]; !used {
			return spi, nil
		}
	}
}

func (e *Engine) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

// retransmitSpan is how long a peer keeps retransmitting one request with
// our settings: the sum of every back-off step.
func (e *Engine) retransmitSpan() time.Duration {
	d, w := time.Duration(0), e.cfg.RetransmitTimeout
	for range e.cfg.RetransmitTries + 1 {
		d += w
		w = min(time.Duration(float64(w)*e.cfg.RetransmitBackoff), e.cfg.RetransmitMaxTimeout)
	}
	return d
}

// jitter returns a random duration in [0, d).
func (e *Engine) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	var b [8]byte
	if _, err := io.ReadFull(e.rand, b[:]); err != nil {
		return 0
	}
	v := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	return time.Duration(v % uint64(d))
}
