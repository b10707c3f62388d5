// Command medid is the single medid binary: the server (`medid serve`) and
// its command-line clients (`medid did …`, `medid ledger …`).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: medid <command> [flags]

commands:
  serve                       run the server (registry, resolver, ledger) on one port
  did create|update|deactivate --server URL   manage a did:medid DID (client-managed keys)
  did resolve DID [--version-time T] [--server URL]
  ledger verify --server URL  audit the server's log as an outside witness
  ledger rebuild [--data DIR] rebuild the DID index from the log (server stopped)
  load --url URL              HTTP load generator for benchmarks (loopback only)

Run 'medid <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "did":
		err = cmdDID(ctx, args[1:], stdout, stderr, getenv)
	case "ledger":
		err = cmdLedger(ctx, args[1:], stdout, stderr, getenv)
	case "load":
		err = cmdLoad(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "medid: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "medid %s: %v\n", args[0], err)
		if _, ok := err.(usageError); ok {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a command-line mistake (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
