package web

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/smarterdev/smarterdev/internal/discordapi"
)

// option is a role or channel a picker offers.
type option struct{ Value, Label string }

// choice is an option with whether the form holds it.
type choice struct {
	option
	Chosen bool
}

// pickerData is a field that offers a guild's roles or channels by name.
// Known is false when Discord did not answer: the page then falls back to
// typing ids (Field), so an outage never locks the admin out of a setting.
type pickerData struct {
	Field   fieldData
	Choices []choice
	Known   bool
}

// picker marks the options the form holds. An id the form holds that is not
// offered stays, checked, so saving does not drop it silently: named from
// known when it is there (a voice channel where only text channels are
// offered), else as not found (a deleted role).
func picker(f *form, name, id, label, hint string, opts []option, known ...[]option) pickerData {
	chosen := map[string]bool{}
	var order []string
	for _, v := range f.Values[name] {
		for _, s := range splitList(v) {
			if !chosen[s] {
				chosen[s] = true
				order = append(order, s)
			}
		}
	}
	d := pickerData{Field: fieldData{Form: f, Name: name, ID: id, Label: label, Hint: hint}, Known: opts != nil}
	if !d.Known {
		d.Field.Label += " (ids)"
		d.Field.Hint = "Discord ids, comma-separated; the names could not be loaded from Discord."
		return d
	}
	listed := map[string]bool{}
	for _, o := range opts {
		listed[o.Value] = true
		d.Choices = append(d.Choices, choice{option: o, Chosen: chosen[o.Value]})
	}
	for _, s := range order {
		if listed[s] {
			continue
		}
		o := option{Value: s, Label: "Not found in this server (" + s + ")"}
		for _, list := range known {
			for _, k := range list {
				if k.Value == s {
					o.Label = k.Label + " (not offered here)"
				}
			}
		}
		d.Choices = append(d.Choices, choice{option: o, Chosen: true})
	}
	return d
}

// pickOptions are a guild's roles and channels for the pickers; nil lists
// when Discord does not answer.
type pickOptions struct {
	Roles    []option // every role but @everyone, highest first
	Channels []option // channels that carry messages
	Postable []option // text and announcement channels: where the bot can post
}

func (h *Handler) pickOptions(ctx context.Context, guild int64) pickOptions {
	var p pickOptions
	if roles := h.dir.Roles(ctx, guild); roles != nil {
		p.Roles = make([]option, 0, len(roles))
		for _, r := range roles {
			p.Roles = append(p.Roles, option{Value: r.ID, Label: "@" + r.Name})
		}
	}
	if chans := h.dir.Channels(ctx, guild); chans != nil {
		p.Channels, p.Postable = make([]option, 0, len(chans)), []option{}
		for _, c := range chans {
			o := option{Value: c.ID, Label: channelLabel(c)}
			p.Channels = append(p.Channels, o)
			if c.Postable() {
				p.Postable = append(p.Postable, o)
			}
		}
	}
	return p
}

// RoleNames and ChannelNames name ids for reading ("@Helper, @Mods"); an id
// Discord does not list (or when it does not answer) stays a number.
func (p pickOptions) RoleNames(ids []int64) string    { return labels(p.Roles, ids) }
func (p pickOptions) ChannelNames(ids []int64) string { return labels(p.Channels, ids) }

func labels(opts []option, ids []int64) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		v := strconv.FormatInt(id, 10)
		if i := slices.IndexFunc(opts, func(o option) bool { return o.Value == v }); i >= 0 {
			v = opts[i].Label
		}
		out = append(out, v)
	}
	return strings.Join(out, ", ")
}

var channelKinds = map[int]string{2: "voice", 5: "announcements", 13: "stage", 15: "forum", 16: "media"}

func channelLabel(c discordapi.Channel) string {
	var b strings.Builder
	b.WriteString("#" + c.Name)
	if k, ok := channelKinds[c.Type]; ok {
		b.WriteString(" (" + k + ")")
	}
	return b.String()
}
