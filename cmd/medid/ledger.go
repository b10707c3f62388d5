package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

func cmdLedger(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError("ledger: want 'verify' or 'rebuild'")
	}
	switch args[0] {
	case "rebuild":
		return cmdLedgerRebuild(ctx, args[1:], stdout, stderr, getenv)
	case "verify":
		return cmdLedgerVerify(ctx, args[1:], stdout, stderr)
	}
	return usageError(fmt.Sprintf("ledger: unknown subcommand %q", args[0]))
}

// cmdLedgerRebuild discards the DID index and replays the log. The server
// must be stopped: the ledger directory lock makes a running one fail this.
func cmdLedgerRebuild(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("ledger rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Bind(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError(err.Error())
	}
	a, err := app.New(ctx, cfg, newLogger(stderr, cfg.LogLevel), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close(context.Background())
	start := time.Now()
	n, err := a.Registry.Rebuild(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt the DID index from the log: %d operations applied in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
