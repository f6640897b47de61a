// Package memo keeps a value computed once per string for strings a
// program reuses as they are: a ServeMux hands every request of a route the
// same pattern string (the same bytes at the same address). A lookup
// compares the string's address and length, where a map hashes and
// compares its bytes: about 20 instructions against 200-250 for a route
// pattern, on every request, in the access log and in the HTTP metrics
// (docs/PERFORMANCE.md, issue 6, eleventh pass).
package memo

import (
	"sync/atomic"
	"unsafe"
)

// slots bounds the strings remembered: the first string to land on a slot
// keeps it, so a program with more strings than that, or strings made anew
// for each use, finds some of them missing and computes them again (what
// it would do without the memo), without the slots ever changing hands
// between cores. A server's hundred-odd route patterns leave about five
// sharing a slot with another at 1,024 (about seventeen at 256).
const slots = 1024

// ByString holds values by the identity of a string; the zero value is
// empty and ready. Safe for concurrent use.
type ByString[V any] struct {
	slots [slots]atomic.Pointer[entry[V]]
}

type entry[V any] struct {
	p *byte // keeps the string's bytes alive, so no other string gets their address
	n int
	v V
}

// slot is where s is kept: the top bits of its address times a large odd
// constant (Fibonacci hashing).
func slot(p *byte) int {
	return int(uint64(uintptr(unsafe.Pointer(p))) * 0x9e3779b97f4a7c15 >> 54)
}

// Get returns the value kept for s (the same bytes at the same address).
// Small enough to be inlined, where GetOrPut is not: callers on a hot path
// ask Get first.
func (m *ByString[V]) Get(s string) (V, bool) {
	p := unsafe.StringData(s)
	if e := m.slots[slot(p)].Load(); e != nil && e.p == p && e.n == len(s) {
		return e.v, true
	}
	var zero V
	return zero, false
}

// GetOrPut returns the value kept for s, keeping mk's first when s's slot
// is free. It reports false, without calling mk, when s cannot be kept:
// the empty string, or a slot another string holds.
func (m *ByString[V]) GetOrPut(s string, mk func() V) (V, bool) {
	p := unsafe.StringData(s)
	sl := &m.slots[slot(p)]
	for len(s) > 0 {
		if e := sl.Load(); e != nil {
			if e.p == p && e.n == len(s) {
				return e.v, true
			}
			break
		}
		sl.CompareAndSwap(nil, &entry[V]{p: p, n: len(s), v: mk()}) // if another got there first, its entry is loaded next
	}
	var zero V
	return zero, false
}
