package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
)

// lifetimeQueue is how many dataplane lifetime reports wait for
// runLifetimes; a report that finds the queue full is counted and dropped
// (the SA's other direction, or its hard limit, reports again).
const lifetimeQueue = 256

// runLifetimes rekeys Child SAs whose kilobyte lifetime the dataplane
// reports crossed (`set security-association lifetime kilobytes`, 4,608,000
// by default): the IKE engine rekeys on time, and without this a tunnel
// carrying more than the limit between two time rekeys would stop at the
// hard limit. A soft report (90% of the limit) rekeys the Child SA; a hard
// one, which means the rekey did not happen in time, tries again. Both
// directions of one Child SA report; the second finds the rekey under way
// (ike.ErrBusy) and is ignored.
//
// Both ends of a tunnel count the same bytes and cross the soft limit
// together, and two simultaneous rekeys of one Child SA collide (RFC 7296
// §2.8.1). So on a soft report the IKE SA's initiator rekeys at once, and
// the responder only if the Child SA is still there after
// responderRekeyDelay (its peer may not count bytes at all).
//
// It runs counted in d.wg, so that the rekeys it starts are too (an Add
// while the count is above zero).
func (d *Daemon) runLifetimes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-d.nhrp.lifetimes:
			ikeSPI, inSPI, initiator, ok := d.childOf(ev)
			if !ok {
				continue
			}
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				if !initiator && !ev.Hard {
					select {
					case <-ctx.Done():
						return
					case <-time.After(responderRekeyDelay):
					}
					if _, _, _, ok := d.childOf(ev); !ok {
						return // the initiator rekeyed it
					}
				}
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				err := d.engine.RekeyChildSA(rctx, ikeSPI, inSPI)
				switch {
				case err == nil:
					d.log.Info("child sa rekeyed on its kilobyte lifetime", "spi", fmt.Sprintf("%08x", inSPI), "hard", ev.Hard, "bytes", ev.Bytes)
				case errors.Is(err, ike.ErrBusy), errors.Is(err, ike.ErrNoSA), ctx.Err() != nil:
				default:
					d.log.Warn("child sa rekey on kilobyte lifetime failed", "spi", fmt.Sprintf("%08x", inSPI), "hard", ev.Hard, "err", err)
				}
			}()
		}
	}
}

// responderRekeyDelay is how long the IKE responder leaves a Child SA past
// its soft kilobyte lifetime to the initiator before rekeying it itself.
var responderRekeyDelay = 2 * time.Second

// childOf finds the IKE SA and inbound SPI of the Child SA one of whose
// SAs ev reports, and whether we initiated the IKE SA.
func (d *Daemon) childOf(ev dataplane.LifetimeEvent) (ikeSPI uint64, inSPI uint32, initiator, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for spi, s := range d.sessions {
		if ev.Direction == dataplane.Inbound {
			if _, ok := s.Children[ev.SPI]; ok {
				return spi, ev.SPI, s.IKE.Initiator, true
			}
			continue
		}
		for in, c := range s.Children {
			if c.OutboundSPI == ev.SPI {
				return spi, in, s.IKE.Initiator, true
			}
		}
	}
	return 0, 0, false, false
}
