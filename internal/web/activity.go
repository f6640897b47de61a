package web

import (
	"database/sql"
	"html/template"
	"net/http"
	"time"

	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// activityDays is how far back the activity charts go.
const activityDays = 30

type activityData struct {
	Totals      economy.Totals
	Members     int
	Squads      int
	Days        int
	Charts      []chartView
	RewardsDay  int64 // daily rewards in the window
	TransfersN  int64 // transfers in the window
	TransferSum int64
}

type chartView struct {
	ID     string
	Title  string
	Note   string
	SVG    template.HTML
	Points []point
	Legend []string // series names of a stacked chart, classes s0, s1, ...
}

// streakBuckets are the streak distribution's buckets: lower bound and label.
var streakBuckets = []struct {
	From  int64
	Label string
}{{1, "1"}, {2, "2–7"}, {8, "8–15"}, {16, "16–31"}, {32, "32–63"}, {64, "64+"}}

func (h *Handler) activity(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	now := h.now()
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since := end.AddDate(0, 0, -(activityDays - 1))
	totals, err := h.d.Economy.Totals(ctx, g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := h.d.DB.Q()
	kinds, err := q.LedgerPerDay(ctx, sqldb.LedgerPerDayParams{GuildID: g.ID, Since: since})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	active, err := q.ActiveMembersPerDay(ctx, sqldb.ActiveMembersPerDayParams{GuildID: g.ID, Since: since})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sq, err := h.d.Squads.List(ctx, g.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// A streak is alive while its last claim was today or yesterday.
	streaks, err := q.StreakDistribution(ctx, sqldb.StreakDistributionParams{GuildID: g.ID,
		AliveSince: sql.NullString{String: end.AddDate(0, 0, -1).Format(time.DateOnly), Valid: true}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	joins, err := q.SquadJoinsPerDay(ctx, sqldb.SquadJoinsPerDayParams{GuildID: g.ID, Since: since})
	if err != nil {
		h.fail(w, r, err)
		return
	}

	days := make([]string, activityDays)
	index := map[string]int{}
	for i := range days {
		days[i] = since.AddDate(0, 0, i).Format(time.DateOnly)
		index[days[i]] = i
	}
	label := func(i int) string { return days[i][5:] }
	rewards := make([]int64, activityDays)
	transfers := make([]int64, activityDays)
	net := make([]int64, activityDays)
	dam := make([]int64, activityDays)
	squadJoins := make([]int64, activityDays)
	squadSwitches := make([]int64, activityDays)
	d := activityData{Totals: totals, Members: g.Guild.Members, Squads: len(sq), Days: activityDays}
	for _, k := range kinds {
		i, ok := index[k.Day]
		if !ok {
			continue
		}
		net[i] += k.Total
		switch k.Kind {
		case economy.KindDaily:
			rewards[i] += k.Entries
			d.RewardsDay += k.Entries
		case economy.KindSquadSwitch:
			squadSwitches[i] += k.Entries
		case economy.KindTransferOut:
			transfers[i] += k.Entries
			d.TransfersN += k.Entries
			d.TransferSum -= k.Total
		}
	}
	for _, j := range joins {
		if i, ok := index[j.Day]; ok {
			squadJoins[i] = j.Joins
		}
	}
	for _, a := range active {
		if i, ok := index[a.Day]; ok {
			dam[i] = a.Members
		}
	}
	// Circulation at the end of each day: today's total minus what changed after.
	circ := make([]int64, activityDays)
	c := totals.Circulation
	for i := activityDays - 1; i >= 0; i-- {
		circ[i] = c
		c -= net[i]
	}
	series := func(vals []int64) []point {
		out := make([]point, len(vals))
		for i, v := range vals {
			out[i] = point{Label: label(i), Value: v}
		}
		return out
	}
	squadPts := make([]point, 0, len(sq))
	for _, s := range sq {
		squadPts = append(squadPts, point{Label: s.Name, Value: int64(s.Members)})
	}
	add := func(id, title, note string, pts []point, line bool) {
		cv := chartView{ID: id, Title: title, Note: note, Points: pts}
		if line {
			cv.SVG = lineChart(title, pts)
		} else {
			empty := noDataYet
			if id == "squads" { // squads exist (the chart is drawn only then), none has members
				empty = "No members in squads yet"
			}
			cv.SVG = barChart(title, empty, pts)
		}
		d.Charts = append(d.Charts, cv)
	}
	add("circulation", "Bytes in circulation", "at the end of each UTC day", series(circ), true)
	add("active", "Daily active members", "members with any bytes activity that day", series(dam), false)
	add("rewards", "Daily rewards per day", "rewards claimed", series(rewards), false)
	add("transfers", "Transfers per day", "transfers between members", series(transfers), false)
	streakPts := make([]point, len(streakBuckets))
	for i, b := range streakBuckets {
		streakPts[i] = point{Label: b.Label}
		for _, s := range streaks {
			if s.Bucket == b.From {
				streakPts[i].Value = s.Members
			}
		}
	}
	add("streaks", "Streak distribution", "members per current daily streak (days)", streakPts, false)
	labels := make([]string, activityDays)
	for i := range labels {
		labels[i] = label(i)
	}
	squadActivity := chartView{ID: "squad-activity", Title: "Squad activity", Note: "joins and paid switches per day", Legend: []string{"joins", "switches"}}
	squadActivity.SVG = stackedBarChart(squadActivity.Title, labels, squadActivity.Legend, [][]int64{squadJoins, squadSwitches})
	for i := range labels {
		squadActivity.Points = append(squadActivity.Points, point{Label: labels[i] + " joins", Value: squadJoins[i]}, point{Label: labels[i] + " switches", Value: squadSwitches[i]})
	}
	d.Charts = append(d.Charts, squadActivity)
	if len(squadPts) > 0 {
		add("squads", "Squad sizes", "members per squad now", squadPts, false)
	}
	h.render(w, r, http.StatusOK, "activity", &page{Title: "Activity", Nav: "activity", Guild: g, Data: d})
}
