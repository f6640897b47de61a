package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	dbot "github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/discord/emulator"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/moderation"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// messageCreate is a MESSAGE_CREATE frame as the gateway sends it.
var messageCreate = []byte(`{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{"id":"1300000000000000042","channel_id":"1200000000000000003",
"guild_id":"1100000000000000001","author":{"id":"1000000000000000777","username":"alice","global_name":"Alice","avatar":null,"discriminator":"0"},
"member":{"roles":["1300000000000000001","1300000000000000002"],"joined_at":"2026-01-01T00:00:00Z","nick":null,"deaf":false,"mute":false,"flags":0},
"content":"message number 7 with some words in it","timestamp":"2026-05-01T12:00:00.000000+00:00","edited_timestamp":null,
"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],"pinned":false,"type":0}}`)

// BenchmarkDecodeMessageCreate is the reference: decoding the frame, which
// every bot does for every message.
func BenchmarkDecodeMessageCreate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m gateway.Message
		if err := json.Unmarshal(messageCreate, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageCreateRewarded is the bot's path for a member already
// rewarded today (most messages of a day): decode, then the daily-reward
// handler, which must answer from memory without touching the database.
func BenchmarkMessageCreateRewarded(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	k := memberKey{guild: 1100000000000000001, user: 1000000000000000777}
	day := economy.DayOf(now)
	bt.daily.begin(k, day)
	bt.daily.finish(k, day, true)
	b.ReportAllocs()
	for b.Loop() {
		var m gateway.Message
		if err := json.Unmarshal(messageCreate, &m); err != nil {
			b.Fatal(err)
		}
		d := m.D.(gateway.EventMessageCreate)
		e := &events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
			GenericEvent: events.NewGenericEvent(nil, m.S, 0), MessageID: d.ID, Message: d.Message,
			ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
		}}
		bt.onMessage(e)
		bt.onAutomodMessage(e)
	}
	if len(bt.claims) != 0 {
		b.Fatal("a rewarded member started a claim")
	}
}

// BenchmarkMessageCreateRewardedParallel runs the same path on every core,
// as a process's shards do (each shard has its own goroutine).
func BenchmarkMessageCreateRewardedParallel(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	k := memberKey{guild: 1100000000000000001, user: 1000000000000000777}
	day := economy.DayOf(now)
	bt.daily.begin(k, day)
	bt.daily.finish(k, day, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var m gateway.Message
			if err := json.Unmarshal(messageCreate, &m); err != nil {
				b.Error(err)
				return
			}
			d := m.D.(gateway.EventMessageCreate)
			bt.onMessage(&events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
				GenericEvent: events.NewGenericEvent(nil, m.S, 0), MessageID: d.ID, Message: d.Message,
				ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
			}})
		}
	})
}

// BenchmarkMessageCreateAutomod is the bot's message path (decode, daily
// reward from memory, automod) without automod and with 20 rules, in the
// same run (issue 5's reference).
func BenchmarkMessageCreateAutomod(b *testing.B) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := storetest.Open(b, store.SQLite)
	mb := bus.NewMemory()
	defer mb.Close()
	mod := moderation.NewService(db, mb, moderation.Options{})
	ctx := context.Background()
	const guild = 1100000000000000001
	for i := range 5 {
		for _, r := range []automod.Rule{
			{Name: fmt.Sprint("rate", i), Kind: automod.KindMessageRate, Enabled: true, Count: 10 + i, WindowSeconds: 5 + i, Action: automod.ActionTimeout, TimeoutSeconds: 60},
			{Name: fmt.Sprint("dup", i), Kind: automod.KindDuplicate, Enabled: true, Count: 50, WindowSeconds: 30, Action: automod.ActionDelete},
			{Name: fmt.Sprint("spread", i), Kind: automod.KindChannelSpread, Enabled: true, Count: 5 + i, WindowSeconds: 20, Action: automod.ActionWarn},
			{Name: fmt.Sprint("files", i), Kind: automod.KindAttachment, Enabled: true, Extensions: []string{"exe", "scr"}, Action: automod.ActionWarn},
		} {
			if _, err := mod.CreateRule(ctx, guild, 1, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	client, err := disgo.New(emulator.Token(1), dbot.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mod  *moderation.Service
	}{{"without automod", nil}, {"with 20 rules", mod}} {
		b.Run(c.name, func(b *testing.B) {
			bt := New(Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, Moderation: c.mod})
			k := memberKey{guild: guild, user: 1000000000000000777}
			day := economy.DayOf(now)
			bt.daily.begin(k, day)
			bt.daily.finish(k, day, true)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var m gateway.Message
				if err := json.Unmarshal(messageCreate, &m); err != nil {
					b.Fatal(err)
				}
				d := m.D.(gateway.EventMessageCreate)
				// Messages a second apart: no rule fires, as for ordinary talk.
				d.Message.CreatedAt = now.Add(time.Duration(i) * time.Second)
				e := &events.GuildMessageCreate{GenericGuildMessage: &events.GenericGuildMessage{
					GenericEvent: events.NewGenericEvent(client, m.S, 0), MessageID: d.ID, Message: d.Message,
					ChannelID: d.ChannelID, GuildID: snowflake.ID(k.guild),
				}}
				bt.onMessage(e)
				bt.onAutomodMessage(e)
			}
		})
	}
}
