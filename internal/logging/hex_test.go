package logging

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestHexAsEncodingHex: appendHex writes what encoding/hex writes, for every
// length up to 24 bytes (words and tails), for every nibble in every place.
func TestHexAsEncodingHex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 24; n++ {
		for round := range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
				if round < 16 { // each nibble value everywhere, high and low
					b[i] = byte(round<<4 | (15 - round))
				}
			}
			if got, want := string(appendHex([]byte("x"), b)), "x"+hex.EncodeToString(b); got != want {
				t.Fatalf("appendHex(% x) = %q, want %q", b, got, want)
			}
		}
	}
}
