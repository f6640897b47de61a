package logging

import "encoding/binary"

// Every request's line carries hex: its id (drawn per request) and, when
// traced, its trace and span ids. These write eight digits per step instead
// of one (TestHexAsEncodingHex compares them with encoding/hex).

// appendHex appends the lowercase hex of b, as hex.AppendEncode does.
func appendHex(dst, b []byte) []byte {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		dst = binary.BigEndian.AppendUint64(dst, hexDigits(uint32(v>>32)))
		dst = binary.BigEndian.AppendUint64(dst, hexDigits(uint32(v)))
		b = b[8:]
	}
	for _, c := range b {
		dst = append(dst, hexDigit[c>>4], hexDigit[c&15])
	}
	return dst
}

const hexDigit = "0123456789abcdef"

// hexDigits returns the eight lowercase hex digits of v, the first in the
// highest byte: each nibble spread to a byte of its own, then '0' added to
// all and 'a'-'0'-10 more to those above 9.
func hexDigits(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	above9 := (x + 0x0606060606060606) >> 4 & lowBits
	return x + lowBits*'0' + above9*('a'-'0'-10)
}
