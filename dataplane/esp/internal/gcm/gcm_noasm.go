//go:build !amd64 || purego

package gcm

const available = false

func gcmCtr(rk *[240]byte, rounds int, j0, ekj0 *[16]byte, dst, src *byte, n int) {
	panic("gcm: assembly not available")
}

func gcmGhash(htab *[512]byte, acc *[16]byte, p *byte, n int) {
	panic("gcm: assembly not available")
}

func subWord(w uint32) uint32 { panic("gcm: assembly not available") }

func gcmAEAD(rk *[240]byte, rounds int, htab *[512]byte, j0, tag *[16]byte, dst, src *byte, n int, aad *byte, naad int, seal int) {
	panic("gcm: assembly not available")
}
