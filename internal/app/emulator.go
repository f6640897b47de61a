package app

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/smarterdev/smarterdev/internal/discord/emulator"
)

// emulatorCommand runs the Discord emulator on its own (docs/emulator.md):
// the demo guild seeded, the bot token and the control API printed, until
// SIGINT or SIGTERM. Point a bot at it with SMARTERDEV_DISCORD_TOKEN and
// SMARTERDEV_DISCORD_API_URL.
func emulatorCommand(e env) *cobra.Command {
	var addr string
	var shards int
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the Discord emulator (gateway, REST, OAuth2, control API) with the demo guild",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if shards < 1 {
				return usageError(fmt.Errorf("--shards must be at least 1, got %d", shards))
			}
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			em := emulator.New(emulator.Options{Shards: shards, Logger: log.With("component", "emulator"), HeartbeatInterval: 5 * time.Second})
			base, err := em.Start(addr)
			if err != nil {
				return &exitError{code: ExitFailure, msg: fmt.Sprintf("start the Discord emulator on %s: %v", addr, err)}
			}
			defer em.Close()
			demo := em.SeedDemo()
			printEmulatorBanner(e.stdout, em, demo, base)
			<-cmd.Context().Done()
			log.Info("emulator stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "listen address (host:port)")
	cmd.Flags().IntVar(&shards, "shards", 1, "shard count the emulator recommends (GET /gateway/bot)")
	return cmd
}

// printEmulatorBanner says how to point the bot at the emulator and drive it.
func printEmulatorBanner(w io.Writer, em *emulator.Emulator, d *emulator.Demo, base string) {
	fmt.Fprintf(w, "Discord emulator listening on %s\n\n", base)
	fmt.Fprintf(w, "Point the bot at it:\n")
	fmt.Fprintf(w, "  export SMARTERDEV_DISCORD_TOKEN='%s'\n", em.BotToken())
	fmt.Fprintf(w, "  export SMARTERDEV_DISCORD_API_URL='%s'\n", em.APIURL())
	fmt.Fprintf(w, "  export SMARTERDEV_DISCORD_GUILD_ID=%s\n", d.GuildID)
	fmt.Fprintf(w, "  application id: %s   OAuth2 client id: %s   client secret: %s\n\n", em.ApplicationID(), em.ClientID(), em.ClientSecret())
	fmt.Fprintf(w, "Control API: %s/_emulator/ (reference: docs/emulator.md)\n", base)
	fmt.Fprintf(w, "Demo guild %s: #general %s, #bot-commands %s, member gopher_gary %s\n\n", d.GuildID, d.General, d.BotCommands, d.Members["gopher_gary"])
	fmt.Fprintf(w, "Examples:\n")
	fmt.Fprintf(w, "  curl -s %s/_emulator/guilds\n", base)
	fmt.Fprintf(w, "  curl -s -XPOST %s/_emulator/guilds/%s/channels/%s/messages -d '{\"user_id\":\"%s\",\"content\":\"hello\"}'\n",
		base, d.GuildID, d.General, d.Members["gopher_gary"])
	fmt.Fprintf(w, "  curl -s -XPOST %s/_emulator/interactions -d '{\"kind\":\"command\",\"guild_id\":\"%s\",\"channel_id\":\"%s\",\"user_id\":\"%s\",\"command\":\"bytes read\"}'\n",
		base, d.GuildID, d.BotCommands, d.Members["gopher_gary"])
	fmt.Fprintf(w, "\nStop with Ctrl-C.\n")
}
