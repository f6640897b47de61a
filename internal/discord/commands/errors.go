package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
)

// This file is the one translation of errors into what a member reads in
// Discord. Every refusal is ephemeral and says why and what to do; anything
// unexpected says it failed, with a reference id that is also in the log.

var (
	errOnlyInGuild      = apperr.New(apperr.Invalid, "this command works in a server, not in direct messages")
	errUnknownCommand   = apperr.New(apperr.NotFound, "this command is not known to the bot (it may have been removed)")
	errUnknownComponent = apperr.New(apperr.NotFound, "this button or menu is no longer known to the bot")
)

// notYoursError: a member clicked a menu someone else opened.
type notYoursError struct{ Owner int64 }

func (e *notYoursError) Error() string {
	return fmt.Sprintf("this menu belongs to member %d", e.Owner)
}
func (e *notYoursError) Code() apperr.Code { return apperr.Forbidden }

const (
	colorOK      = 0x2ECC71
	colorInfo    = 0x3498DB
	colorRefused = 0xE67E22
	colorFailed  = 0xE74C3C
	colorExpired = 0x95A5A6
)

func refusal(title, why, what string) Reply {
	desc := why
	if what != "" {
		desc += "\n\n" + what
	}
	return Reply{Ephemeral: true, Embeds: []discord.Embed{{Title: title, Description: desc, Color: colorRefused}}}
}

func notice(title, desc string) discord.Embed {
	return discord.Embed{Title: title, Description: desc, Color: colorInfo}
}

// replyForError is the table: typed domain errors first, then apperr codes.
func (r *Router) replyForError(ctx context.Context, in discord.Interaction, err error) Reply {
	var (
		funds    *economy.InsufficientFundsError
		cooldown *economy.CooldownError
		claimed  *economy.AlreadyClaimedError
		noAcc    *economy.NoAccountError
		full     *squads.FullError
		notElig  *squads.NotEligibleError
		already  *squads.AlreadyMemberError
		notIn    *squads.NotInSquadError
		noSquad  *squads.NotFoundError
		notYours *notYoursError
		noPerm   *missingPermissionError
		guarded  *protectedTargetError
		field    *apperr.Error
	)
	switch {
	case errors.As(err, &funds):
		return refusal("Not enough bytes",
			fmt.Sprintf("You have **%d** bytes and this needs **%d**.", funds.Balance, funds.Needed),
			"Earn bytes with your first message of each day, or ask someone to `/bytes send` you some. Check your balance with `/bytes read`.")
	case errors.As(err, &cooldown):
		return refusal("Transfer cooldown",
			fmt.Sprintf("You sent bytes recently; you can send again in **%s**.", economy.HumanDuration(cooldown.Remaining)),
			"This server limits how often a member sends bytes.")
	case errors.As(err, &claimed):
		return refusal("Already claimed today",
			fmt.Sprintf("Today's reward is already paid. The next one is available in **%s** (00:00 UTC).", economy.HumanDuration(claimed.Remaining)), "")
	case errors.As(err, &noAcc):
		return refusal("No bytes yet",
			fmt.Sprintf("%s has no bytes account in this server yet.", discord.UserMention(snowflake.ID(noAcc.UserID))),
			"An account opens with a member's first message or command here.")
	case errors.As(err, &full):
		return refusal("Squad full",
			fmt.Sprintf("**%s** already has %d members, its limit.", full.Squad, full.Max),
			"Pick another squad with `/squads join`, or ask an admin to raise the limit.")
	case errors.As(err, &notElig):
		return refusal("Not eligible for squads yet",
			fmt.Sprintf("Squads here need a balance of at least **%d** bytes; you have **%d**.", notElig.Minimum, notElig.Balance),
			"Earn bytes with your first message of each day, then try again.")
	case errors.As(err, &already):
		return refusal("Already in that squad", fmt.Sprintf("You are already in **%s**.", already.Squad),
			"Pick a different squad, or see yours with `/squads info`.")
	case errors.As(err, &notIn):
		return refusal("Not in a squad", "You are not in a squad, so there is nothing to leave.",
			"Join one with `/squads join`.")
	case errors.As(err, &noSquad):
		return refusal("No such squad", "That squad does not exist in this server (any more).",
			"See the current squads with `/squads list`.")
	case errors.As(err, &noPerm):
		return refusal("Missing permission",
			fmt.Sprintf("`%s` needs the **%s** permission in this server, and you do not have it.", noPerm.Command, noPerm.Permission),
			"Ask a server admin if you should.")
	case errors.As(err, &guarded):
		return refusal("Not allowed on this member", guarded.Why, "")
	case errors.As(err, &notYours):
		return refusal("Not your menu",
			fmt.Sprintf("This menu was opened by %s; only they can use it.", discord.UserMention(snowflake.ID(notYours.Owner))),
			"Run the command yourself to get your own.")
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid:
		msg := err.Error()
		if errors.As(err, &field) && field.Field != "" {
			msg = field.Message
		}
		return refusal("That did not work", capitalize(msg)+".", "Check the command's options and try again.")
	case apperr.NotFound, apperr.Conflict, apperr.Refused, apperr.Forbidden:
		return refusal("Not possible right now", capitalize(err.Error())+".", "")
	case apperr.Unavailable:
		return refusal("Temporarily unavailable", capitalize(err.Error())+".", "Please try again in a minute.")
	}
	ref := reference()
	r.log.ErrorContext(ctx, "interaction failed", "ref", ref, "interaction_id", in.ID(), "err", err)
	return Reply{Ephemeral: true, Embeds: []discord.Embed{{Title: "Something went wrong",
		Description: fmt.Sprintf("The command failed on our side. If it keeps happening, tell a moderator the reference `%s`.", ref),
		Color:       colorFailed}}}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
