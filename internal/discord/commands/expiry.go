package commands

import (
	"container/heap"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"
)

// Menus (answers with buttons or select menus) can be used for 60 s
// (componentTTL). When that passes without a click that changes the menu,
// the router edits the message through the interaction's webhook (the token
// is valid 15 minutes): the components show disabled and a note names the
// command that opens the menu again. Pending menus wait in one heap served by
// one goroutine (RunExpiry), so nothing outlives shutdown; a click whose
// answer replaces the menu (a pick, a confirmation, a cancel) takes it out.
//
// Any process may serve a click (the custom ids carry the state), so before
// editing, the expiry reads the message back and leaves it alone unless it
// still shows exactly the components that were scheduled: an answer served
// by another web replica is never overwritten. A process that stops forgets
// its pending menus; clicks on them are still refused after 60 s (router.go).

// OriginalReader is a Responder that can read its answer back while the
// interaction token lives. Only menus answered through one expire visibly;
// RESTResponder is one.
type OriginalReader interface {
	Original(ctx context.Context) (*discord.Message, error)
}

const (
	// expiryRecheck bounds each wait of RunExpiry, so an injected clock
	// (Deps.Now) that jumps ahead is noticed within a second.
	expiryRecheck = time.Second
	// maxPendingMenus bounds the memory pending menus take.
	maxPendingMenus = 10_000
	expiryTimeout   = 10 * time.Second
)

// menu is one answer with components, waiting to expire.
type menu struct {
	key   snowflake.ID // the interaction that created the message (menuKey)
	due   time.Time
	ids   []string // custom ids shown, sorted
	shown Reply    // embeds and components as sent
	again string   // the command that opens the menu again; "" when unknown
	resp  interface {
		Responder
		OriginalReader
	}
	index int // in the heap
}

type menuHeap []*menu

func (h menuHeap) Len() int           { return len(h) }
func (h menuHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h menuHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *menuHeap) Push(x any) {
	m := x.(*menu)
	m.index = len(*h)
	*h = append(*h, m)
}
func (h *menuHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}

// expiry holds the pending menus of one router.
type expiry struct {
	now  func() time.Time
	log  *slog.Logger
	wake chan struct{} // a menu became the first due
	pass sync.Mutex    // one expiry pass at a time

	mu      sync.Mutex
	running bool // RunExpiry is serving: only then are menus kept
	heap    menuHeap
	byKey   map[snowflake.ID]*menu
}

func newExpiry(now func() time.Time, log *slog.Logger) *expiry {
	return &expiry{now: now, log: log, wake: make(chan struct{}, 1), byKey: map[snowflake.ID]*menu{}}
}

func (x *expiry) schedule(m *menu) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.running {
		return
	}
	// A click can be answered before the goroutine that showed the menu
	// it clicked has scheduled that menu; the menu the click showed is the
	// later one. Letting the earlier replace it would leave the newer menu
	// never disabled.
	if old, ok := x.byKey[m.key]; ok && old.due.After(m.due) {
		return
	}
	x.removeLocked(m.key)
	if len(x.heap) >= maxPendingMenus {
		x.log.Warn("interaction: too many open menus; this one will not be disabled when it expires", "pending", len(x.heap))
		return
	}
	heap.Push(&x.heap, m)
	x.byKey[m.key] = m
	if m.index == 0 {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

func (x *expiry) cancel(key snowflake.ID) {
	x.mu.Lock()
	x.removeLocked(key)
	x.mu.Unlock()
}

func (x *expiry) removeLocked(key snowflake.ID) {
	if m, ok := x.byKey[key]; ok {
		heap.Remove(&x.heap, m.index)
		delete(x.byKey, key)
	}
}

// takeDue removes and returns the menus due at now.
func (x *expiry) takeDue(now time.Time) []*menu {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*menu
	for len(x.heap) > 0 && !now.Before(x.heap[0].due) {
		m := heap.Pop(&x.heap).(*menu)
		delete(x.byKey, m.key)
		out = append(out, m)
	}
	return out
}

// untilNext is how long until the first menu is due; false with none.
func (x *expiry) untilNext() (time.Duration, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.heap) == 0 {
		return 0, false
	}
	return x.heap[0].due.Sub(x.now()), true
}

func (x *expiry) setRunning(on bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.running = on
	if !on {
		x.heap, x.byKey = nil, map[snowflake.ID]*menu{}
	}
}

// RunExpiry disables the components of menus whose 60 s passed without a
// click, until ctx ends; then it forgets the menus still pending. Without
// it running, menus are only refused when clicked late.
func (r *Router) RunExpiry(ctx context.Context) error {
	x := r.expiry
	x.setRunning(true)
	defer x.setRunning(false)
	for {
		r.ExpireDue(ctx)
		var tick <-chan time.Time
		var timer *time.Timer
		if d, ok := x.untilNext(); ok {
			timer = time.NewTimer(min(max(d, 0), expiryRecheck))
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case <-x.wake:
		case <-tick:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// ExpireDue edits every menu that is due now (by Deps.Now) and returns how
// many it disabled. RunExpiry calls it; a test with an injected clock may
// call it to wait for the expiry without waiting for the goroutine.
func (r *Router) ExpireDue(ctx context.Context) int {
	x := r.expiry
	x.pass.Lock()
	defer x.pass.Unlock()
	n := 0
	for _, m := range x.takeDue(x.now()) {
		if ctx.Err() != nil {
			return n
		}
		if r.disable(ctx, m) {
			n++
		}
	}
	return n
}

// disable edits an expired menu unless its message changed since.
func (r *Router) disable(ctx context.Context, m *menu) bool {
	ctx, cancel := context.WithTimeout(ctx, expiryTimeout)
	defer cancel()
	msg, err := m.resp.Original(ctx)
	if err != nil {
		r.log.Info("interaction: expired menu not disabled: reading it back failed", "interaction_id", m.key, "err", err)
		return false
	}
	if !slices.Equal(customIDsOf(msg.Components), m.ids) {
		r.log.Debug("interaction: expired menu was already answered", "interaction_id", m.key)
		return false
	}
	embeds := slices.Clone(m.shown.Embeds)
	if len(embeds) >= 10 { // Discord's limit
		embeds = embeds[:9]
	}
	embeds = append(embeds, expiredNote(m.again))
	comps := disabledComponents(m.shown.Components)
	if err := m.resp.EditOriginal(ctx, discord.MessageUpdate{Embeds: &embeds, Components: &comps}); err != nil {
		r.log.Info("interaction: disabling an expired menu failed", "interaction_id", m.key, "err", err)
		return false
	}
	return true
}

func expiredNote(again string) discord.Embed {
	desc := "⌛ Expired — run the command again to start over."
	if again != "" {
		desc = "⌛ Expired — run `" + again + "` again."
	}
	return discord.Embed{Description: desc, Color: colorExpired}
}

// expireLater schedules the menu an answer showed, if any. in is the
// interaction answered, rep the answer as sent.
func (r *Router) expireLater(in discord.Interaction, resp Responder, rep Reply, deferred, isComponent bool) {
	reader, ok := resp.(interface {
		Responder
		OriginalReader
	})
	if !ok || len(rep.Components) == 0 {
		return
	}
	var key snowflake.ID
	switch {
	case isComponent && rep.Update:
		key = menuKey(in) // the clicked message, now showing this menu
	case isComponent && deferred:
		return // posted as a follow-up, which @original does not reach
	default:
		key = in.ID() // a new message answering this interaction
	}
	ids := customIDsOf(rep.Components)
	var due time.Time
	again := ""
	for _, id := range ids {
		route, _, _, expires, err := parseCustomID(id)
		if err != nil {
			continue
		}
		if due.IsZero() || expires.Before(due) {
			due = expires
		}
		if again == "" {
			again = reopen[route]
		}
	}
	if due.IsZero() {
		return // no component of ours: nothing expires
	}
	r.expiry.schedule(&menu{key: key, due: due, ids: ids, shown: rep, again: again, resp: reader})
}

// menuKey names the message a component is on by the interaction that
// created it, which is how expireLater keyed its menu.
func menuKey(in discord.Interaction) snowflake.ID {
	ci, ok := in.(discord.ComponentInteraction)
	if !ok {
		return in.ID()
	}
	switch m := ci.Message; {
	case m.InteractionMetadata != nil:
		return m.InteractionMetadata.ID
	case m.Interaction != nil:
		return m.Interaction.ID
	default:
		return m.ID
	}
}

// customIDsOf lists the custom ids of the interactive components, sorted.
func customIDsOf(comps []discord.LayoutComponent) []string {
	var ids []string
	for c := range (discord.Message{Components: comps}).AllComponents() {
		if ic, ok := c.(discord.InteractiveComponent); ok && ic.GetCustomID() != "" {
			ids = append(ids, ic.GetCustomID())
		}
	}
	slices.Sort(ids)
	return ids
}

// disabledComponents returns comps with every button and select menu of
// their action rows disabled (menus here are made of action rows only).
func disabledComponents(comps []discord.LayoutComponent) []discord.LayoutComponent {
	out := make([]discord.LayoutComponent, 0, len(comps))
	for _, c := range comps {
		row, ok := c.(discord.ActionRowComponent)
		if !ok {
			out = append(out, c)
			continue
		}
		items := make([]discord.InteractiveComponent, 0, len(row.Components))
		for _, ic := range row.Components {
			switch v := ic.(type) {
			case discord.ButtonComponent:
				if v.Style != discord.ButtonStyleLink {
					ic = v.AsDisabled()
				}
			case discord.StringSelectMenuComponent:
				ic = v.AsDisabled()
			case discord.UserSelectMenuComponent:
				ic = v.AsDisabled()
			case discord.RoleSelectMenuComponent:
				ic = v.AsDisabled()
			case discord.MentionableSelectMenuComponent:
				ic = v.AsDisabled()
			case discord.ChannelSelectMenuComponent:
				ic = v.AsDisabled()
			}
			items = append(items, ic)
		}
		row.Components = items
		out = append(out, row)
	}
	return out
}
