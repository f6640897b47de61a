package web

import "testing"

// Each gridline is max*i/4: the maximum must split into four whole, round
// steps, or the labels read 0, 1, 2, 3, 5 on evenly spaced lines.
func TestNiceMaxGivesFourRoundSteps(t *testing.T) {
	for v, want := range map[int64]int64{0: 4, 1: 4, 4: 4, 5: 8, 7: 8, 9: 20, 20: 20, 21: 40, 41: 80,
		99: 100, 100: 100, 101: 200, 450: 800, 999: 1000, 1001: 2000, 123456: 200000} {
		got := niceMax(v)
		if got != want {
			t.Errorf("niceMax(%d) = %d, want %d", v, got, want)
		}
		if got < v || got%4 != 0 {
			t.Errorf("niceMax(%d) = %d: below the value or not four whole steps", v, got)
		}
	}
}
