package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medid/medid/internal/ledger/audit"
)

// cmdLedgerVerify audits a medid ledger as an outside witness.
func cmdLedgerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", os.Getenv("MEDID_SERVER"), "medid server base URL (its log is at <server>/ledger/)")
	stateFile := fs.String("state", defaultWitnessState(), "witness state file: the last verified checkpoint")
	key := fs.String("key", "", "the log's note verifier key; default: trust on first use, then pinned in the state file")
	full := fs.Bool("full", false, "recompute the whole tree from entry 0 even if earlier entries were verified before")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" {
		*server = defaultServer
	}
	var last time.Time
	progress := func(done, total uint64) {
		if *quiet || (time.Since(last) < 500*time.Millisecond && done != total) {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\rverified %d/%d entries", done, total)
		if done == total {
			fmt.Fprintln(stderr)
		}
	}
	rep, err := audit.Verify(ctx, audit.Options{
		BaseURL:     strings.TrimRight(*server, "/") + "/ledger/",
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
		VerifierKey: *key,
		StateFile:   *stateFile,
		Full:        *full,
		Progress:    progress,
	})
	if err != nil {
		return fmt.Errorf("LEDGER VERIFICATION FAILED: %w", err)
	}
	if rep.KeyTrustedOnFirstUse {
		fmt.Fprintf(stdout, "trusting the log key on first use and pinning it in %s: %s\n", *stateFile, rep.VerifierKey)
	}
	fmt.Fprintf(stdout, "ok: %s size %d root %s (previously verified size %d, %d entries checked, full=%v)\n",
		rep.Origin, rep.TreeSize, base64.StdEncoding.EncodeToString(rep.Root), rep.PreviousSize, rep.Entries, rep.Full)
	return nil
}

func defaultWitnessState() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "medid-witness.json"
	}
	return filepath.Join(dir, "medid", "witness.json")
}
