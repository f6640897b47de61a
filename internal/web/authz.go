package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/smarterdev/smarterdev/internal/discordapi"
)

type cachedGuilds struct {
	list    []discordapi.UserGuild
	fetched time.Time
}

// errSignedOut means Discord no longer accepts the session's token.
var errSignedOut = errors.New("discord refused the session's token")

// myGuilds returns the viewer's guilds from Discord with their permissions,
// cached per session for GuildsTTL. Dev sessions have none.
func (h *Handler) myGuilds(ctx context.Context, v *viewer) ([]discordapi.UserGuild, error) {
	if v.token == "" {
		return nil, nil
	}
	now := h.now()
	h.guildsMu.Lock()
	c, ok := h.guilds[v.idHash]
	h.guildsMu.Unlock()
	if ok && now.Sub(c.fetched) < h.d.GuildsTTL {
		return c.list, nil
	}
	list, err := h.d.Discord.MyGuilds(ctx, v.token)
	if err != nil {
		var de *discordapi.Error
		if errors.As(err, &de) && de.Status == http.StatusUnauthorized {
			return nil, errSignedOut
		}
		return nil, err
	}
	h.guildsMu.Lock()
	if len(h.guilds) > 10_000 {
		clear(h.guilds)
	}
	h.guilds[v.idHash] = cachedGuilds{list: list, fetched: now}
	h.guildsMu.Unlock()
	return list, nil
}

// canManage reports whether the viewer manages guild: an operator, or a
// member holding Manage Server or Administrator there (or its owner).
func (h *Handler) canManage(ctx context.Context, v *viewer, guild int64) (bool, error) {
	if v.Operator {
		return true, nil
	}
	list, err := h.myGuilds(ctx, v)
	if err != nil {
		return false, err
	}
	for _, g := range list {
		if g.IDInt() == guild {
			return g.CanManage(), nil
		}
	}
	return false, nil
}

// guildCtx is what a guild page gets: the viewer and the guild they manage.
type guildCtx struct {
	*viewer
	ID    int64
	Guild discordapi.GuildInfo
}

// guild wraps a per-guild page: signed in, CSRF on writes, and allowed to
// manage the guild in the path — checked on every request.
func (h *Handler) guild(next func(w http.ResponseWriter, r *http.Request, g *guildCtx)) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		id, err := strconv.ParseInt(r.PathValue("guild"), 10, 64)
		if err != nil || id <= 0 {
			h.errorPage(w, r, http.StatusNotFound, "There is no guild with that id.")
			return
		}
		ok, err := h.canManage(r.Context(), v, id)
		if errors.Is(err, errSignedOut) {
			_ = h.endSession(w, r, v)
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		if err != nil {
			h.log.WarnContext(r.Context(), "reading guild permissions from Discord failed", "err", err)
			h.errorPage(w, r, http.StatusServiceUnavailable, "Discord did not answer, so your permissions in this guild could not be checked. Try again in a minute.")
			return
		}
		if !ok {
			h.log.InfoContext(r.Context(), "guild access refused", "user_id", v.UserID, "guild_id", id)
			h.errorPage(w, r, http.StatusForbidden, "You do not manage this guild. You need the Manage Server permission there.")
			return
		}
		next(w, r, &guildCtx{viewer: v, ID: id, Guild: h.guildInfo(r.Context(), v, id)})
	})
}

// guildInfo names a guild: from the viewer's own guild list when it has it,
// else through the bot, else by id.
func (h *Handler) guildInfo(ctx context.Context, v *viewer, id int64) discordapi.GuildInfo {
	if list, err := h.myGuilds(ctx, v); err == nil {
		for _, g := range list {
			if g.IDInt() == id {
				return discordapi.GuildInfo{ID: id, Name: g.Name, Members: g.ApproximateMemberCount, Known: true}
			}
		}
	}
	return h.dir.Guild(ctx, id)
}
