package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
)

// apikeyCommand manages REST API keys. A new key goes to stdout alone, so
// scripts can capture it; everything said about it goes to stderr.
func apikeyCommand(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list, revoke and rotate REST API keys",
		RunE:  helpAndFail,
	}
	var name, scope, expiresIn string
	var guild int64
	create := &cobra.Command{
		Use:   "create --name NAME --scope read|write|admin [--guild ID] [--expires-in 90d]",
		Short: "Issue a key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := apikeys.ParseScope(scope)
			if err != nil {
				return usageError(err)
			}
			ttl, err := parseLifetime(expiresIn)
			if err != nil {
				return usageError(err)
			}
			return withKeys(cmd.Context(), e, func(ctx context.Context, cfg config.Config, keys *apikeys.Service) error {
				k, token, err := keys.Create(ctx, 0, apikeys.Spec{Name: name, Scope: sc, GuildID: guild, TTL: ttl})
				if err != nil {
					return keyError(cfg, err)
				}
				fmt.Fprintln(e.stdout, token)
				fmt.Fprintf(e.stderr, "created API key %s (%q, scope %s, %s, %s); it is shown only this once\n",
					k.Prefix, k.Name, k.Scope, guildText(k.GuildID), expiryText(k))
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "who or what uses the key (required)")
	create.Flags().StringVar(&scope, "scope", "", "read, write or admin (required)")
	create.Flags().Int64Var(&guild, "guild", 0, "bind the key to one guild id (default: every guild)")
	create.Flags().StringVar(&expiresIn, "expires-in", "", "stop the key working after this long: 90d, 36h (an hour to five years; default: until revoked)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scope")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys: prefix, name, scope, guild, created, last used, expires, revoked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd.Context(), e, func(ctx context.Context, cfg config.Config, keys *apikeys.Service) error {
				ks, err := keys.List(ctx)
				if err != nil {
					return keyError(cfg, err)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PREFIX\tNAME\tSCOPE\tGUILD\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
				for _, k := range ks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Name, k.Scope, guildText(k.GuildID),
						timeText(k.CreatedAt), timeText(k.LastUsedAt), timeText(k.ExpiresAt), timeText(k.RevokedAt))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				// On stderr, so that scripts reading the table see the same columns.
				now := time.Now()
				for _, k := range ks {
					if k.ExpiresSoon(now) {
						fmt.Fprintf(e.stderr, "warning: API key %s (%q) stops working on %s; rotate it (smarterdev apikey rotate %s) and deploy the new key\n",
							k.Prefix, k.Name, k.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), k.Prefix)
					}
				}
				return nil
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke PREFIX",
		Short: "Disable a key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withKeys(cmd.Context(), e, func(ctx context.Context, cfg config.Config, keys *apikeys.Service) error {
				k, err := keys.Revoke(ctx, 0, args[0])
				if err != nil {
					return keyError(cfg, err)
				}
				fmt.Fprintf(e.stdout, "revoked API key %s (%q)\n", k.Prefix, k.Name)
				return nil
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate PREFIX",
		Short: "Revoke a key and issue a new one with the same name, scope, guild and lifetime",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withKeys(cmd.Context(), e, func(ctx context.Context, cfg config.Config, keys *apikeys.Service) error {
				k, token, err := keys.Rotate(ctx, 0, args[0])
				if err != nil {
					return keyError(cfg, err)
				}
				fmt.Fprintln(e.stdout, token)
				fmt.Fprintf(e.stderr, "revoked %s; created API key %s (%q, scope %s, %s, %s); it is shown only this once\n",
					args[0], k.Prefix, k.Name, k.Scope, guildText(k.GuildID), expiryText(k))
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

// withKeys opens the database with the same schema rule as the server:
// SQLite is migrated on the spot, PostgreSQL must be up to date already.
func withKeys(ctx context.Context, e env, fn func(context.Context, config.Config, *apikeys.Service) error) error {
	cfg, log, err := e.setup()
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return failure(cfg, err)
	}
	defer db.Close()
	if db.Dialect == store.SQLite {
		err = migrateUp(ctx, db, log)
	} else if st, serr := db.MigrationStatus(ctx); serr != nil {
		err = serr
	} else if !st.UpToDate() {
		err = &SchemaError{Current: st.Current, Latest: st.Latest}
	}
	if err != nil {
		return failure(cfg, err)
	}
	keys := apikeys.NewService(db, nil)
	// With Redis, revocations reach running servers at once; without it a
	// server notices within apikeys' verified-key cache time.
	if cfg.RedisURL.IsSet() {
		b, closeBus, _, err := openBus(ctx, cfg, db, log)
		if err != nil {
			return failure(cfg, err)
		}
		defer closeBus()
		if err := keys.Listen(ctx, b); err != nil {
			return failure(cfg, err)
		}
	}
	// A guild's audit log shows a change to its key as made from the
	// command line.
	return fn(audit.ViaCommandLine(ctx), cfg, keys)
}

func keyError(cfg config.Config, err error) error {
	if apperr.Is(err, apperr.Invalid) {
		return usageError(err)
	}
	return failure(cfg, err)
}

func guildText(id int64) string {
	if id == 0 {
		return "every guild"
	}
	return "guild " + strconv.FormatInt(id, 10)
}

// parseLifetime reads --expires-in: a Go duration (36h) or whole days (90d).
func parseLifetime(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--expires-in: %q is not a number of days, e.g. 90d", v)
		}
		if n > int(apikeys.MaxTTL/(24*time.Hour)) { // before multiplying: no overflow
			return 0, fmt.Errorf("--expires-in: %q is longer than five years", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires-in: %q is not a lifetime: give days (90d) or a duration (36h)", v)
	}
	return d, nil
}

func expiryText(k apikeys.Key) string {
	if k.ExpiresAt.IsZero() {
		return "no expiry"
	}
	return "expires " + timeText(k.ExpiresAt)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
