package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/discordapi"
)

const auditPerPage = 30

type change struct {
	Path    string
	Before  string // "" with Added
	After   string // "" with Removed
	Added   bool
	Removed bool
}

type auditRow struct {
	ID      int64
	At      time.Time
	Actor   discordapi.Profile
	System  bool
	Action  string
	Target  string
	Reason  string
	Changes []change
}

type auditData struct {
	Rows  []auditRow
	Next  int64
	Paged bool
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, g *guildCtx) {
	ctx := r.Context()
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	entries, err := audit.List(ctx, h.d.DB, g.ID, before, auditPerPage+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := auditData{Paged: before > 0}
	if len(entries) > auditPerPage {
		entries = entries[:auditPerPage]
		d.Next = entries[len(entries)-1].ID
	}
	var actors []int64
	for _, e := range entries {
		if e.ActorID > 0 {
			actors = append(actors, e.ActorID)
		}
	}
	names := h.dir.Members(ctx, g.ID, actors)
	for _, e := range entries {
		d.Rows = append(d.Rows, auditRow{ID: e.ID, At: e.At, Actor: names[e.ActorID], System: e.ActorID == 0, Action: e.Action,
			Target: e.Target, Reason: e.Reason, Changes: diffJSON(e.Before, e.After)})
	}
	h.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Nav: "audit", Guild: g, Data: d})
}

// diffJSON flattens two JSON documents into dotted paths and lists what
// differs: a readable before/after of an audited change.
func diffJSON(before, after []byte) []change {
	b, a := map[string]string{}, map[string]string{}
	flatten("", decode(before), b)
	flatten("", decode(after), a)
	var keys []string
	for k := range b {
		keys = append(keys, k)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []change
	for _, k := range keys {
		bv, inB := b[k]
		av, inA := a[k]
		switch {
		case inB && inA && bv == av:
		case !inB:
			out = append(out, change{Path: k, After: av, Added: true})
		case !inA:
			out = append(out, change{Path: k, Before: bv, Removed: true})
		default:
			out = append(out, change{Path: k, Before: bv, After: av})
		}
	}
	return out
}

func decode(raw []byte) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	return v
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case nil:
		if prefix != "" {
			out[prefix] = "null"
		}
	case map[string]any:
		if len(t) == 0 && prefix != "" {
			out[prefix] = "{}"
		}
		for k, x := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
	case []any:
		if len(t) == 0 {
			out[prefix] = "[]"
		}
		for i, x := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	case string:
		out[prefix] = strconv.Quote(t)
	default:
		out[prefix] = fmt.Sprint(t)
	}
}
