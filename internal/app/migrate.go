package app

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smarterdev/smarterdev/internal/store"
)

func migrateCommand(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or inspect database migrations",
		RunE:  helpAndFail,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Apply every pending migration (safe to run concurrently and repeatedly)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, log, err := e.setup()
				if err != nil {
					return err
				}
				db, err := openDatabase(cmd.Context(), cfg, log)
				if err != nil {
					return failure(cfg, err)
				}
				defer db.Close()
				applied, err := db.Migrate(cmd.Context())
				if err != nil {
					return failure(cfg, err)
				}
				st, err := db.MigrationStatus(cmd.Context())
				if err != nil {
					return failure(cfg, err)
				}
				if len(applied) == 0 {
					fmt.Fprintf(e.stdout, "already at version %d; nothing to apply\n", st.Current)
				} else {
					fmt.Fprintf(e.stdout, "applied %s; now at version %d\n", versions(applied), st.Current)
				}
				return nil
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "Print the schema version, the version this binary needs and what is pending",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, log, err := e.setup()
				if err != nil {
					return err
				}
				db, err := openDatabase(cmd.Context(), cfg, log)
				if err != nil {
					return failure(cfg, err)
				}
				defer db.Close()
				st, err := db.MigrationStatus(cmd.Context())
				if err != nil {
					return failure(cfg, err)
				}
				printStatus(e.stdout, st)
				return nil
			},
		},
	)
	return cmd
}

func printStatus(w io.Writer, st store.MigrationState) {
	pending := "none"
	if len(st.Pending) > 0 {
		pending = versions(st.Pending)
	}
	fmt.Fprintf(w, "current: %d\nlatest:  %d\npending: %s\n", st.Current, st.Latest, pending)
}

func versions(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ", ")
}
