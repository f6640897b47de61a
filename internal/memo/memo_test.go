package memo

import (
	"strings"
	"sync"
	"testing"
)

func TestByStringKeepsByIdentity(t *testing.T) {
	var m ByString[int]
	a := strings.Repeat("GET /api/v1/guilds/{guild}", 1)
	m.Put(a, 1)
	if v, ok := m.Get(a); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v; want 1, true", v, ok)
	}
	// Equal bytes elsewhere are another string: not found, so computed again.
	b := strings.Clone(a)
	if _, ok := m.Get(b); ok {
		t.Fatal("a copy of a was found")
	}
	// A prefix shares a's address: its length tells them apart.
	if _, ok := m.Get(a[:3]); ok {
		t.Fatal("a prefix of a was found")
	}
	// The first string of a slot keeps it.
	m.Put(a, 2)
	if v, _ := m.Get(a); v != 1 {
		t.Fatalf("Put replaced a's value: %d", v)
	}
	m.Put("", 3)
	if _, ok := m.Get(""); ok {
		t.Fatal("the empty string was kept")
	}
}

func TestByStringFillsUpWithoutLosingAnything(t *testing.T) {
	var m ByString[string]
	var kept []string
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				s := strings.Repeat("x", 1+(g*1000+i)%50) + string(rune('a'+g))
				m.Put(s, s)
				if v, ok := m.Get(s); ok {
					if v != s {
						t.Errorf("Get(%q) = %q", s, v)
					}
					mu.Lock()
					kept = append(kept, s)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(kept) == 0 || len(kept) > slots {
		t.Fatalf("%d strings kept, want 1-%d", len(kept), slots)
	}
	for _, s := range kept {
		if v, ok := m.Get(s); !ok || v != s {
			t.Fatalf("Get(%q) = %q, %v after the others", s, v, ok)
		}
	}
}
