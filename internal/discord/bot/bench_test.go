package bot

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/economy"
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
