package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/medid/medid/internal/app"
	"github.com/medid/medid/internal/config"
)

// server is a medid started in-process for a test.
type server struct {
	URL   string
	App   *app.App
	Data  string
	stop  context.CancelFunc
	done  chan error
	Admin string
}

// startServer runs `medid serve` on a loopback port over dataDir.
func startServer(t testing.TB, dataDir string, env map[string]string) *server {
	t.Helper()
	cfg := &config.Config{DataDir: dataDir, LogLevel: "warn",
		RedisURL: env["MEDID_REDIS_URL"], AdminToken: env["MEDID_ADMIN_TOKEN"], AllowInsecureDIDWeb: true,
		IssuerDID: env["MEDID_ISSUER_DID"]}
	return startServerConfig(t, cfg, app.Options{RedisPrefix: env["REDIS_PREFIX"]})
}

// startServerConfig runs `medid serve` with cfg (its Addr is set to a free
// loopback port) and opts.
func startServerConfig(t testing.TB, cfg *config.Config, opts app.Options) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = l.Addr().String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dataDir := cfg.DataDir
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(context.Background(), cfg, log, opts)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{URL: "http://" + l.Addr().String(), App: a, Data: dataDir, stop: cancel, done: make(chan error, 1), Admin: a.AdminToken()}
	go func() { s.done <- a.Serve(ctx, l) }()
	t.Cleanup(func() { s.Stop(t) })
	waitReady(t, s.URL)
	return s
}

// Stop shuts the server down gracefully and waits for it.
func (s *server) Stop(t testing.TB) {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil && err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("server did not shut down within 30s")
	}
}

func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server not ready within 10s")
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func tempData(t testing.TB) string { return filepath.Join(t.TempDir(), "data") }
