// Package hdr holds packet header views: named []byte types with RFC-named
// accessors over the wire bytes, in the style of gVisor's tcpip/header.
//
// A view never copies and never allocates. Each view has one validity check
// (the Valid method, or a package function returning the header length) that
// the packet path calls once where bytes enter; the accessors after that
// assume the check passed and do not re-check bounds beyond what Go enforces.
// All multi-byte fields are big-endian (network order).
//
// The package is standard library only and safe for concurrent use as far as
// the caller's buffers are: views are plain slices the caller owns.
package hdr
