package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime/debug"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

// defaultGCPercent is the server's GOGC when the environment sets none.
const defaultGCPercent = 200

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Bind(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if err := cfg.Validate(); err != nil {
		return usageError(err.Error())
	}
	if getenv("GOGC") == "" {
		// The live heap is small (tens of MB) and allocation-heavy
		// requests made the default GC a tenth of the server's CPU under
		// load; GOGC in the environment still decides.
		debug.SetGCPercent(defaultGCPercent)
	}
	log := newLogger(stderr, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	if a.AdminTokenPath != "" {
		fmt.Fprintf(stdout, "admin token written to %s (mode 0600); send it as 'Authorization: Bearer <token>'\n", a.AdminTokenPath)
	}
	if a.WebhookSecretPath != "" {
		fmt.Fprintf(stdout, "webhook secret written to %s (mode 0600); webhook receivers check the Medid-Signature header with it\n", a.WebhookSecretPath)
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = a.Close(context.Background())
		return err
	}
	log.Info("medid serving", "addr", l.Addr().String(), "base_url", cfg.BaseURL, "data", cfg.DataDir,
		"store", storeName(cfg), "ledger_origin", cfg.LedgerOrigin(), "tls", cfg.TLSCert != "")
	return a.Serve(ctx, l)
}

func storeName(cfg *config.Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "bbolt"
}
