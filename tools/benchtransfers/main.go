// Command benchtransfers measures bytes transfers through economy.Service on
// PostgreSQL beside pgbench running the equivalent transaction (guarded debit,
// credit, two-row ledger insert) on the same server with the same number of
// clients, and prints both rates and their ratio. `make bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtransfers:", err)
		os.Exit(1)
	}
}

func run() error {
	dbURL := flag.String("db", envOr("SMARTERDEV_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL")
	clients := flag.Int("clients", 8, "concurrent clients for both runs")
	duration := flag.Duration("duration", 10*time.Second, "length of each run")
	accounts := flag.Int("accounts", 1000, "accounts to spread transfers over")
	rounds := flag.Int("rounds", 2, "alternating rounds; the best rate of each side counts")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the service runs to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()

	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", *dbURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	defer admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")

	u, err := url.Parse(*dbURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String(), store.Options{MaxConns: *clients})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	b := bus.NewMemory()
	defer b.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	econ := economy.NewService(db, b, economy.Options{Logger: log})
	const guild = 1
	cfg := economy.DefaultConfig()
	cfg.StartingBalance = 1_000_000_000
	if _, err := econ.UpdateConfig(ctx, guild, 1, cfg); err != nil {
		return err
	}
	for i := 1; i <= *accounts; i++ {
		if _, _, err := econ.EnsureAccount(ctx, guild, economy.Member{ID: int64(i), Name: "m" + strconv.Itoa(i)}); err != nil {
			return err
		}
	}

	// The reference: the statements a transfer runs, as plain SQL on the same
	// tables (same indexes and triggers), run by pgbench. The difference is
	// the service's own cost: Go, database/sql, the rules.
	script := fmt.Sprintf(`\set a random(1, %[2]d)
\set b random(1, %[2]d)
BEGIN;
UPDATE %[1]s.accounts SET balance = balance - 1, total_sent = total_sent + 1, last_transfer_at = now(), updated_at = now()
  WHERE guild_id = 1 AND user_id = :a AND balance >= 1 RETURNING *;
UPDATE %[1]s.accounts SET balance = balance + 1, total_received = total_received + 1, updated_at = now()
  WHERE guild_id = 1 AND user_id = :b RETURNING *;
INSERT INTO %[1]s.ledger (guild_id, user_id, kind, delta, balance_after, user_name, counterparty_id, counterparty_name, reason, created_at)
  VALUES (1, :a, 'transfer_out', -1, 0, 'a', :b, 'b', 'bench', now()), (1, :b, 'transfer_in', 1, 0, 'b', :a, 'a', 'bench', now())
  RETURNING id;
END;
`, schema, *accounts)
	dir, err := os.MkdirTemp("", "benchtransfers")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	scriptPath := filepath.Join(dir, "transfer.sql")
	if err := os.WriteFile(scriptPath, []byte(script), 0o600); err != nil {
		return err
	}

	var bestOurs, bestRef float64
	for r := 1; r <= *rounds; r++ {
		ref, err := pgbench(*dbURL, scriptPath, *clients, *duration)
		if err != nil {
			return err
		}
		ours, errs, err := transfers(ctx, econ, *clients, *accounts, *duration)
		if err != nil {
			return err
		}
		fmt.Printf("round %d: service %.0f transfers/s (%d refused), pgbench %.0f tx/s\n", r, ours, errs, ref)
		bestOurs, bestRef = max(bestOurs, ours), max(bestRef, ref)
	}
	fmt.Printf("clients=%d duration=%s accounts=%d\n", *clients, *duration, *accounts)
	fmt.Printf("service transfers: %.0f/s\npgbench equivalent: %.0f/s\nratio: %.2f (target >= 0.90)\n", bestOurs, bestRef, bestOurs/bestRef)
	return nil
}

func transfers(ctx context.Context, econ *economy.Service, clients, accounts int, d time.Duration) (float64, int64, error) {
	var done, refused atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				a, b := 1+rng.IntN(accounts), 1+rng.IntN(accounts)
				if a == b {
					continue
				}
				_, err := econ.Transfer(ctx, 1, economy.TransferRequest{
					Giver:    economy.Member{ID: int64(a), Name: "m" + strconv.Itoa(a)},
					Receiver: economy.Member{ID: int64(b), Name: "m" + strconv.Itoa(b)},
					Amount:   1, Reason: "bench",
				})
				if err != nil {
					refused.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok && refused.Load() > done.Load()/100 {
		return 0, refused.Load(), fmt.Errorf("too many failed transfers (%d), first: %w", refused.Load(), e)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), refused.Load(), nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+)`)

func pgbench(dbURL, script string, clients int, d time.Duration) (float64, error) {
	cmd := exec.Command("pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)),
		"-T", strconv.Itoa(int(d.Seconds())), "--max-tries=10", "-f", script, dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	sc := bufio.NewScanner(bytesReader(out))
	for sc.Scan() {
		if m := tpsLine.FindStringSubmatch(sc.Text()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
	}
	return 0, errors.New("pgbench printed no tps line:\n" + string(out))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
