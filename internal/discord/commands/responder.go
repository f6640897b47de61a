package commands

import (
	"context"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
)

// RESTResponder answers through Discord's REST API: the interaction callback
// for the first answer, the interaction webhook afterwards. The gateway path
// uses it as is; the HTTP path replaces Respond with the HTTP response.
type RESTResponder struct {
	Rest        rest.Interactions
	Interaction discord.Interaction
}

// NewRESTResponder returns a RESTResponder for in.
func NewRESTResponder(rs rest.Interactions, in discord.Interaction) *RESTResponder {
	return &RESTResponder{Rest: rs, Interaction: in}
}

func (r *RESTResponder) Respond(ctx context.Context, resp discord.InteractionResponse) error {
	return r.Rest.CreateInteractionResponse(r.Interaction.ID(), r.Interaction.Token(), resp, rest.WithCtx(ctx))
}

func (r *RESTResponder) EditOriginal(ctx context.Context, m discord.MessageUpdate) error {
	_, err := r.Rest.UpdateInteractionResponse(r.Interaction.ApplicationID(), r.Interaction.Token(), m, rest.WithCtx(ctx))
	return err
}

// Original reads the answer back (the webhook's @original message), for the
// expiry of menus (expiry.go).
func (r *RESTResponder) Original(ctx context.Context) (*discord.Message, error) {
	return r.Rest.GetInteractionResponse(r.Interaction.ApplicationID(), r.Interaction.Token(), rest.WithCtx(ctx))
}

func (r *RESTResponder) Followup(ctx context.Context, m discord.MessageCreate) error {
	_, err := r.Rest.CreateFollowupMessage(r.Interaction.ApplicationID(), r.Interaction.Token(), m, rest.WithCtx(ctx))
	return err
}
