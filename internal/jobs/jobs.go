// Package jobs names the durable jobs that committed changes leave in the
// outbox for the worker, and their payloads: the contract between the
// services that write them and the worker that carries them out on Discord.
package jobs

// QueueRoles carries RoleChange jobs.
const QueueRoles = "roles"

// RoleChange asks the worker to add or remove one Discord role of a member.
type RoleChange struct {
	GuildID int64  `json:"guild_id,string"`
	UserID  int64  `json:"user_id,string"`
	RoleID  int64  `json:"role_id,string"`
	Add     bool   `json:"add"`
	Reason  string `json:"reason"` // shown in Discord's audit log
}

// TopicConfigChanged is published (pub/sub) after a guild's configuration
// commits, so every process drops its cached copy; the payload is the guild
// id in decimal.
const TopicConfigChanged = "config.changed"

// QueueModeration carries ModAction jobs: what a case decided, done on Discord.
const QueueModeration = "moderation"

// ModAction asks the worker to carry out a case's action. Every action is
// idempotent on Discord's side (a second ban, timeout or delete changes
// nothing), so at-least-once delivery acts once.
type ModAction struct {
	GuildID         int64  `json:"guild_id,string"`
	Case            int64  `json:"case"`
	Action          string `json:"action"` // warn, timeout, kick, ban, unban, untimeout, delete
	TargetID        int64  `json:"target_id,string"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"`
	Reason          string `json:"reason"`
	ChannelID       int64  `json:"channel_id,string,omitempty"` // the offending message, when it should go
	MessageID       int64  `json:"message_id,string,omitempty"`
	DeleteMessage   bool   `json:"delete_message,omitempty"`
	// DM is sent to the member first when set (a warning, or why they were removed).
	DM string `json:"dm,omitempty"`
}

// QueueModLog carries ModLogPost jobs.
const QueueModLog = "modlog"

// ModLogPost asks the worker to post a case to the guild's mod-log channel:
// when it is opened, and again when a moderator closes it (Closed), so the
// channel also says that a ban was lifted or a timeout cut short.
type ModLogPost struct {
	GuildID   int64 `json:"guild_id,string"`
	ChannelID int64 `json:"channel_id,string"`
	Case      int64 `json:"case"`
	Closed    bool  `json:"closed,omitempty"`
}

// TopicAutomodChanged is published after a guild's automod rules or
// moderation settings commit; the payload is the guild id in decimal.
const TopicAutomodChanged = "automod.changed"
