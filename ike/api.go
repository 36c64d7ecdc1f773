package ike

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// InitiateRequest starts an IKE SA to a peer.
type InitiateRequest struct {
	// Local is the address (and port, normally 500) to send from; Remote
	// the peer's address and port (normally 500).
	Local, Remote netip.AddrPort
	// Profile must have IKEProposals, the PSKs and normally a Child
	// config; the engine keeps the pointer.
	Profile *Profile
}

// Initiate runs IKE_SA_INIT and IKE_AUTH (with the profile's Child SA) and
// returns once the IKE SA is up or has failed. When the IKE SA comes up but
// its Child SA does not, Initiate returns the SA's info and the Child SA's
// error; the IKE SA stays up.
func (e *Engine) Initiate(ctx context.Context, req InitiateRequest) (IKESAInfo, error) {
	p := req.Profile
	if p == nil || len(p.IKEProposals) == 0 {
		return IKESAInfo{}, errors.New("initiate: profile with IKE proposals required")
	}
	if !req.Remote.IsValid() || !req.Local.IsValid() {
		return IKESAInfo{}, errors.New("initiate: local and remote addresses required")
	}
	type result struct {
		info IKESAInfo
		err  error
	}
	res := make(chan result, 1)
	err := e.call(ctx, func() {
		if err := e.admitOutgoing(); err != nil {
			res <- result{err: err}
			return
		}
		sa := e.newIKESA(true, req.Local, req.Remote)
		sa.profile = p
		spi, err := e.newSPI()
		if err != nil {
			res <- result{err: err}
			return
		}
		sa.spii = spi
		e.addSA(sa)
		t := &initTask{done: func(err error) {
			var info IKESAInfo
			for sa.redirectedTo != nil { // followed an IKE_AUTH redirect
				sa = sa.redirectedTo
			}
			if sa.state == stateEstablished {
				info = sa.info()
			}
			res <- result{info, err}
		}}
		sa.queueTask(t)
	})
	if err != nil {
		return IKESAInfo{}, err
	}
	select {
	case r := <-res:
		return r.info, r.err
	case <-ctx.Done():
		return IKESAInfo{}, ctx.Err()
	case <-e.stopped:
		return IKESAInfo{}, ErrClosed
	}
}

// runTask queues a task on the IKE SA with our SPI spi and waits for it.
func (e *Engine) runTask(ctx context.Context, spi uint64, mk func(sa *ikeSA, done func(error)) (task, error)) error {
	res := make(chan error, 1)
	err := e.call(ctx, func() {
		sa := e.sas[spi]
		if sa == nil || sa.state != stateEstablished {
			res <- fmt.Errorf("ike sa %s: %w", hexSPI(spi), ErrNoSA)
			return
		}
		t, err := mk(sa, func(err error) { res <- err })
		if err != nil {
			res <- err
			return
		}
		sa.queueTask(t)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stopped:
		return ErrClosed
	}
}

func (sa *ikeSA) childByInbound(spi uint32) (*childSA, error) {
	c := sa.children[spi]
	if c == nil || c.state == childRemoved {
		return nil, fmt.Errorf("child sa %08x: %w", spi, ErrNoChildSA)
	}
	return c, nil
}

// CreateChildSA negotiates an additional Child SA on the IKE SA with our
// SPI ikeSPI (CREATE_CHILD_SA). cfg.Proposals with a DH group request PFS.
func (e *Engine) CreateChildSA(ctx context.Context, ikeSPI uint64, cfg ChildConfig) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		if len(cfg.Proposals) == 0 {
			return nil, errors.New("create child sa: no proposals")
		}
		return &childCreateTask{done: done, cfg: cfg}, nil
	})
}

// RekeyChildSA rekeys the Child SA whose inbound SPI is inSPI.
func (e *Engine) RekeyChildSA(ctx context.Context, ikeSPI uint64, inSPI uint32) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		c, err := sa.childByInbound(inSPI)
		if err != nil {
			return nil, err
		}
		if c.state != childInstalled {
			return nil, fmt.Errorf("rekey child sa %08x: %w", inSPI, ErrBusy)
		}
		return &childRekeyTask{childCreateTask: childCreateTask{done: done}, old: c}, nil
	})
}

// RekeyIKESA rekeys the IKE SA; its Child SAs move to the new IKE SA,
// whose SPI the ike-rekeyed event and IKESAs report.
func (e *Engine) RekeyIKESA(ctx context.Context, ikeSPI uint64) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		return &ikeRekeyTask{done: done}, nil
	})
}

// DeleteChildSA deletes the Child SA whose inbound SPI is inSPI.
func (e *Engine) DeleteChildSA(ctx context.Context, ikeSPI uint64, inSPI uint32) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		c, err := sa.childByInbound(inSPI)
		if err != nil {
			return nil, err
		}
		return &deleteChildTask{done: done, children: []*childSA{c}}, nil
	})
}

// DeleteIKESA deletes the IKE SA and its Child SAs (IOS "clear crypto
// session"). The SA is removed locally even if the peer does not answer.
func (e *Engine) DeleteIKESA(ctx context.Context, ikeSPI uint64) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		return &deleteIKETask{done: func(err error) {
			if errors.Is(err, ErrDeleted) {
				err = nil
			}
			done(err)
		}}, nil
	})
}

// CheckLiveness sends an empty INFORMATIONAL request and waits for the
// answer. A peer that does not answer is declared dead (ErrTimeout) and its
// SAs are removed.
func (e *Engine) CheckLiveness(ctx context.Context, ikeSPI uint64) error {
	return e.runTask(ctx, ikeSPI, func(sa *ikeSA, done func(error)) (task, error) {
		return &dpdTask{done: done}, nil
	})
}

// IKESAs returns a snapshot of every IKE SA that is up or being set up.
func (e *Engine) IKESAs(ctx context.Context) ([]IKESAInfo, error) {
	var out []IKESAInfo
	err := e.call(ctx, func() {
		for _, sa := range e.sas {
			if sa.state != stateDead && sa.state != stateRekeyed {
				out = append(out, sa.info())
			}
		}
	})
	return out, err
}

// IKESA returns a snapshot of the IKE SA with our SPI spi.
func (e *Engine) IKESA(ctx context.Context, spi uint64) (IKESAInfo, error) {
	var out IKESAInfo
	found := false
	err := e.call(ctx, func() {
		if sa := e.sas[spi]; sa != nil && sa.state != stateDead {
			out, found = sa.info(), true
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("ike sa %s: %w", hexSPI(spi), ErrNoSA)
	}
	return out, err
}

// DeleteAll deletes every established IKE SA (with its Child SAs), sending
// the Deletes in parallel, and waits until all are gone or ctx ends: the
// orderly shutdown before cancelling Run. Half-open SAs are dropped.
func (e *Engine) DeleteAll(ctx context.Context) error {
	var spis []uint64
	err := e.call(ctx, func() {
		for spi, sa := range e.sas {
			switch sa.state {
			case stateEstablished:
				spis = append(spis, spi)
			case stateConnecting:
				sa.destroy(ErrClosed)
			}
		}
	})
	if err != nil {
		return err
	}
	errs := make(chan error, len(spis))
	for _, spi := range spis {
		go func() { errs <- e.DeleteIKESA(ctx, spi) }()
	}
	var first error
	for range spis {
		if err := <-errs; err != nil && !errors.Is(err, ErrNoSA) && !errors.Is(err, ErrTimeout) && first == nil {
			first = err
		}
	}
	return first
}
