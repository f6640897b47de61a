package memo

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestByStringKeepsByIdentity(t *testing.T) {
	var m ByString[int]
	calls := 0
	mk := func(v int) func() int { return func() int { calls++; return v } }
	a := strings.Repeat("GET /api/v1/guilds/{guild}", 1)
	if v, ok := m.GetOrPut(a, mk(1)); !ok || v != 1 {
		t.Fatalf("GetOrPut(a) = %d, %v; want 1, true", v, ok)
	}
	// Kept: found again without making it again.
	if v, ok := m.GetOrPut(a, mk(2)); !ok || v != 1 || calls != 1 {
		t.Fatalf("GetOrPut(a) again = %d, %v after %d calls; want 1, true after 1", v, ok, calls)
	}
	if v, ok := m.Get(a); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v; want 1, true", v, ok)
	}
	if _, ok := m.Get(strings.Clone(a)); ok {
		t.Fatal("Get found a copy of a")
	}
	// Equal bytes elsewhere are another string; a prefix shares a's address
	// and slot, told apart by its length. Neither is a's.
	for _, s := range []string{strings.Clone(a), a[:3]} {
		if v, ok := m.GetOrPut(s, mk(3)); ok && v == 1 {
			t.Fatalf("%q found as a", s)
		}
	}
	if _, ok := m.GetOrPut(a[:3], mk(4)); ok {
		t.Fatal("a prefix of a was kept in a's slot")
	}
	if _, ok := m.GetOrPut("", mk(5)); ok {
		t.Fatal("the empty string was kept")
	}
}

// Strings put from many goroutines at once: each one kept answers its own
// value, made once, and keeps it; at most one string per slot.
func TestByStringFillsUpWithoutLosingAnything(t *testing.T) {
	var m ByString[string]
	var mu sync.Mutex
	kept, made := map[string]bool{}, map[string]int{}
	strs := make([]string, 2000)
	for i := range strs {
		// Each content once: made and kept count by content, so two strings
		// with equal bytes would add up and fail the made-at-most-4 check.
		strs[i] = strings.Repeat("x", 1+i%50) + strconv.Itoa(i)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range strs {
				s := strs[(i+g*500)%len(strs)] // every goroutine puts every string
				v, ok := m.GetOrPut(s, func() string { mu.Lock(); made[s]++; mu.Unlock(); return s })
				if ok {
					if v != s {
						t.Errorf("GetOrPut(%q) = %q", s, v)
					}
					mu.Lock()
					kept[s] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(kept) == 0 || len(kept) > slots {
		t.Fatalf("%d strings kept, want 1-%d", len(kept), slots)
	}
	for s := range kept {
		if v, ok := m.GetOrPut(s, func() string { return "again" }); !ok || v != s {
			t.Fatalf("GetOrPut(%q) = %q, %v after the others", s, v, ok)
		}
	}
	for s, n := range made {
		if kept[s] && n > 4 {
			t.Errorf("%q made %d times", s, n)
		}
	}
}
