package economy_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestCrashLosesNoAcknowledgedTransfer kills a process doing transfers with
// SIGKILL at an arbitrary moment, then checks that every transfer it had
// acknowledged is in the ledger and that the books still balance.
func TestCrashLosesNoAcknowledgedTransfer(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := storetest.URL(t, engine)
			ctx := context.Background()
			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), "SMARTERDEV_CRASH_CHILD="+url)
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				var acked []int64
				sc := bufio.NewScanner(out)
				killAt := 40 + round*35
				for sc.Scan() {
					line := sc.Text()
					if id, ok := strings.CutPrefix(line, "ACK "); ok {
						n, _ := strconv.ParseInt(id, 10, 64)
						acked = append(acked, n)
						if len(acked) == killAt {
							_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
						}
					}
				}
				_ = cmd.Wait()
				if len(acked) < killAt {
					t.Fatalf("child acknowledged only %d transfers before exiting", len(acked))
				}
				for _, id := range acked {
					var n int
					if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger WHERE id = $1 AND kind = 'transfer_out'`, id).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n != 1 {
						t.Fatalf("round %d: acknowledged transfer %d is not in the ledger after the crash", round, id)
					}
				}
				checkLedgerConsistent(t, db)
				var total, accounts int64
				if err := db.SQL().QueryRowContext(ctx, `SELECT COALESCE(SUM(balance),0), COUNT(*) FROM accounts`).Scan(&total, &accounts); err != nil {
					t.Fatal(err)
				}
				if total != accounts*100 {
					t.Fatalf("round %d: %d bytes in %d accounts after the crash, want %d", round, total, accounts, accounts*100)
				}
			}
		})
	}
}

// TestMain turns the test binary into the process that gets killed when
// TestCrashLosesNoAcknowledgedTransfer starts it.
func TestMain(m *testing.M) {
	if url := os.Getenv("SMARTERDEV_CRASH_CHILD"); url != "" {
		crashChild(url)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(url string) {
	ctx := context.Background()
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	s := economy.NewService(db, bus.NewMemory(), economy.Options{})
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		g, r := int64(1+i%7), int64(1+(i*3+1)%7)
		if g == r {
			continue
		}
		res, err := s.Transfer(ctx, 1, economy.TransferRequest{
			Giver: economy.Member{ID: g, Name: "g"}, Receiver: economy.Member{ID: r, Name: "r"}, Amount: 1 + int64(i%5),
		})
		if err != nil {
			continue // insufficient funds and the like
		}
		// Only a committed transfer is acknowledged, as an adapter would.
		fmt.Printf("ACK %d\n", res.ID)
	}
}
