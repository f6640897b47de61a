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
