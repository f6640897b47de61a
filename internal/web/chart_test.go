package web

import (
	"strings"
	"testing"
)

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

func TestChartsSayWhenThereIsNoData(t *testing.T) {
	zero := []point{{"Mon", 0}, {"Tue", 0}}
	some := []point{{"Mon", 0}, {"Tue", 3}}
	for name, c := range map[string]func([]point) string{
		"bar":  func(p []point) string { return string(barChart("t", noDataYet, p)) },
		"line": func(p []point) string { return string(lineChart("t", p)) },
		"stacked": func(p []point) string {
			return string(stackedBarChart("t", []string{"a", "b"}, []string{"x"}, [][]int64{{p[0].Value, p[1].Value}}))
		},
	} {
		if got := c(zero); !strings.Contains(got, "No data yet") {
			t.Errorf("%s chart of zeros does not say so: %s", name, got)
		}
		if got := c(some); strings.Contains(got, "No data yet") {
			t.Errorf("%s chart with data says it has none", name)
		}
	}
}
