package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// point is one value of a chart.
type point struct {
	Label string
	Value int64
}

// Chart sizes (SVG user units; the SVG scales to its container).
const (
	chartW    = 640
	chartH    = 220
	padLeft   = 56
	padRight  = 12
	padTop    = 12
	padBottom = 28
)

// niceMax rounds a maximum up to four times a round step (1, 2, 2.5 or 5
// times a power of ten), so each of the four gridlines is a whole, round
// number: 5 becomes 8 (0, 2, 4, 6, 8), 100 stays 100 (steps of 25).
func niceMax(v int64) int64 {
	if v <= 4 {
		return 4
	}
	need := (v + 3) / 4 // the smallest step that reaches v
	for m := int64(1); m <= math.MaxInt64/50; m *= 10 {
		steps := []int64{m, 2 * m, 5 * m}
		if m >= 10 {
			steps = []int64{m, 2 * m, 5 * m / 2, 5 * m}
		}
		for _, step := range steps {
			if step >= need {
				return 4 * step
			}
		}
	}
	return 4 * need
}

func axes(b *strings.Builder, max int64) {
	plotH := float64(chartH - padTop - padBottom)
	for i := 0; i <= 4; i++ {
		v := max * int64(i) / 4
		y := float64(chartH-padBottom) - plotH*float64(i)/4
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y, y)
		fmt.Fprintf(b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y+4, html.EscapeString(shortNum(v)))
	}
}

func xLabels(b *strings.Builder, pts []point, x func(i int) float64) {
	step := max(1, len(pts)/6)
	for i := 0; i < len(pts); i += step {
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(i), chartH-8, html.EscapeString(pts[i].Label))
	}
}

func shortNum(v int64) string {
	switch {
	case v >= 1_000_000_000:
		return fmt.Sprintf("%.1fG", float64(v)/1e9)
	case v >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(v)/1e6)
	case v >= 10_000:
		return fmt.Sprintf("%.0fk", float64(v)/1e3)
	}
	return formatNum(v)
}

// noDataYet is what an empty chart says unless it knows better.
const noDataYet = "No data yet"

// noData says text on a chart with nothing above zero, where a flat line or
// no bars would look like a chart that failed to draw. It sits between two
// gridlines.
func noData(b *strings.Builder, text string) {
	fmt.Fprintf(b, `<text class="empty" x="%d" y="%d" text-anchor="middle">%s</text>`,
		padLeft+(chartW-padLeft-padRight)/2, padTop+(chartH-padTop-padBottom)*3/8+6, html.EscapeString(text))
}

func open(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet"><title>%s</title>`,
		chartW, chartH, html.EscapeString(title), html.EscapeString(title))
}

// barChart draws one bar per point; empty is what it says when every
// point is zero.
func barChart(title, empty string, pts []point) template.HTML {
	var b strings.Builder
	open(&b, title)
	var top int64
	for _, p := range pts {
		top = max(top, p.Value)
	}
	none := top <= 0
	top = niceMax(top)
	axes(&b, top)
	if none {
		noData(&b, empty)
	}
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBottom)
	n := max(1, len(pts))
	slot := plotW / float64(n)
	bw := max(1, slot*0.7)
	x := func(i int) float64 { return float64(padLeft) + slot*float64(i) + slot/2 }
	for i, p := range pts {
		h := plotH * float64(p.Value) / float64(top)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			x(i)-bw/2, float64(chartH-padBottom)-h, bw, h, html.EscapeString(p.Label), formatNum(p.Value))
	}
	xLabels(&b, pts, x)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text above is escaped
}

// lineChart draws the points joined by a line.
func lineChart(title string, pts []point) template.HTML {
	var b strings.Builder
	open(&b, title)
	var top int64
	for _, p := range pts {
		top = max(top, p.Value)
	}
	none := top <= 0
	top = niceMax(top)
	axes(&b, top)
	if none {
		noData(&b, noDataYet)
	}
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBottom)
	x := func(i int) float64 {
		if len(pts) < 2 {
			return float64(padLeft) + plotW/2
		}
		return float64(padLeft) + plotW*float64(i)/float64(len(pts)-1)
	}
	var path strings.Builder
	for i, p := range pts {
		y := float64(chartH-padBottom) - plotH*float64(p.Value)/float64(top)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(i), y)
	}
	if len(pts) > 0 {
		fmt.Fprintf(&b, `<path class="line" d="%s"/>`, strings.TrimSpace(path.String()))
		for i, p := range pts {
			y := float64(chartH-padBottom) - plotH*float64(p.Value)/float64(top)
			fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="2.5"><title>%s: %s</title></circle>`,
				x(i), y, html.EscapeString(p.Label), formatNum(p.Value))
		}
	}
	xLabels(&b, pts, x)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text above is escaped
}

// stackedBarChart draws, per label, one bar with a segment per series
// (classes s0, s1, ...); names label the segments' tooltips.
func stackedBarChart(title string, labels []string, names []string, series [][]int64) template.HTML {
	var b strings.Builder
	open(&b, title)
	var top int64
	for i := range labels {
		var sum int64
		for _, s := range series {
			sum += s[i]
		}
		top = max(top, sum)
	}
	none := top <= 0
	top = niceMax(top)
	axes(&b, top)
	if none {
		noData(&b, noDataYet)
	}
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBottom)
	n := max(1, len(labels))
	slot := plotW / float64(n)
	bw := max(1, slot*0.7)
	x := func(i int) float64 { return float64(padLeft) + slot*float64(i) + slot/2 }
	for i, l := range labels {
		base := float64(chartH - padBottom)
		for k, s := range series {
			if s[i] == 0 {
				continue
			}
			h := plotH * float64(s[i]) / float64(top)
			base -= h
			fmt.Fprintf(&b, `<rect class="bar s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s, %s: %s</title></rect>`,
				k, x(i)-bw/2, base, bw, h, html.EscapeString(l), html.EscapeString(names[k]), formatNum(s[i]))
		}
	}
	pts := make([]point, len(labels))
	for i, l := range labels {
		pts[i] = point{Label: l}
	}
	xLabels(&b, pts, x)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text above is escaped
}
