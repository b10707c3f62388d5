// Package app wires medid together: it opens the store (bbolt or Redis),
// the keystore, the ledger and the registry, builds the DID resolver and
// registers every route on one echo server. It is the only package that
// chooses a storage backend.
package app

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/did/didweb"
	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/config"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/rediskv"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/issuer"
	"github.com/medid/medid/verifier"
	"github.com/medid/medid/verifier/access"
	"github.com/medid/medid/verifier/audit"
	"github.com/medid/medid/verifier/oidc"
	"github.com/medid/medid/verifier/openid4vp"
	"github.com/medid/medid/verifier/trust"
	walletapi "github.com/medid/medid/wallet-api"
	"github.com/prometheus/client_golang/prometheus"
)

// App is a running medid: its stores, ledger, services and HTTP server.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	// Store holds shared state: Redis when configured, else Local.
	Store kv.Store
	// Local is the embedded store beside the ledger. What is bound to this
	// instance's ledger (its signing key, the server DID) lives here even
	// when Store is Redis: another instance's ledger is a different log.
	Local kv.Store
	// Index is the DID index derived from the ledger: its own file, written
	// without fsync, and rebuilt from the ledger if it is ever unreadable.
	Index kv.Store
	Keys  *keys.Keystore
	// ServerDID is the server's own did:medid, which publishes the
	// ledger's verifier key.
	ServerDID string
	// IssuerDID is the DID credentials are issued under: Config.IssuerDID,
	// or ServerDID.
	IssuerDID string
	Ledger    *ledger.Log
	Registry  *registry.Registry
	Registrar *registry.Registrar
	Resolver  *did.Resolver
	Issuer    *issuer.Service
	Status    *issuer.Status
	VCAPI     *issuer.VCAPI
	// The verifier: the verification core, its trusted issuer lists and
	// the OpenID4VP sessions.
	Verifier      *verifier.Verifier
	Trust         *trust.Registry
	Presentations *openid4vp.Service
	// OIDC is the OpenID provider for wallet login.
	OIDC *oidc.Provider
	// Audit is the patients' access log; Access decides record access on
	// consents.
	Audit  *audit.Service
	Access *access.Service
	// Wallet is the patients' wallet API.
	Wallet *walletapi.Service
	Echo   *echo.Echo
	// AdminTokenPath is where a generated admin token was written ("" when
	// it came from MEDID_ADMIN_TOKEN).
	AdminTokenPath string
	// WebhookSecretPath is where a generated webhook secret was written
	// ("" when it came from MEDID_WEBHOOK_SECRET or was there before).
	WebhookSecretPath string

	adminToken string
	// webhookSecret signs the verifier's webhooks.
	webhookSecret string
	metrics       *metrics
	journalSync   prometheus.Histogram // set with the access log
	issuerKeys    issuerKeys
	diSuite       *dataintegrity.Suite
	localKeys     *keys.Keystore
	closers       []func() error
	closeOnce     sync.Once
	closeErr      error
}

// Options adjusts New for tests.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RedisPrefix namespaces Redis keys (default "medid:").
	RedisPrefix string
	// StatusTTL is the ttl of the issuer's status lists: how long
	// verifiers, this server's included, may cache them (zero: 60 s; at
	// least a second otherwise). Tests shorten it to see a revocation
	// take effect without waiting a minute.
	StatusTTL time.Duration
	// WalletX509Roots are the trust anchors the wallet API checks
	// x509_san_dns verifiers against (nil: the system's roots); tests use
	// a private CA.
	WalletX509Roots *x509.CertPool
	// WebhookClient delivers the verifier's webhooks (nil: a client with
	// a 10 s timeout and the system's roots); tests use one that trusts
	// their TLS receiver.
	WebhookClient *http.Client
}

// ledgerKeyID is the keystore id of the ledger's checkpoint signing key.
const ledgerKeyID = "ledger/checkpoint-signer"

// New opens everything cfg names. Close releases it.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) (*App, error) {
	if opts.StatusTTL != 0 && opts.StatusTTL < time.Second {
		return nil, fmt.Errorf("status list ttl %v: zero or at least a second", opts.StatusTTL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	a := &App{Config: cfg, Log: log}
	logTesseraTo(log)
	if err := a.open(ctx, opts); err != nil {
		_ = a.Close(context.Background())
		return nil, err
	}
	return a, nil
}

// open opens the stores, keys, ledger and registry; Close undoes what it did.
func (a *App) open(ctx context.Context, opts Options) (err error) {
	cfg, log := a.Config, a.Log
	local, err := boltkv.Open(filepath.Join(cfg.DataDir, "medid.db"))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	a.Local, a.Store = local, local
	a.closers = append(a.closers, local.Close)
	if cfg.RedisURL != "" {
		prefix := opts.RedisPrefix
		if prefix == "" {
			prefix = "medid:"
		}
		s, err := rediskv.Open(cfg.RedisURL, prefix)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		a.Store = s
		a.closers = append(a.closers, s.Close)
	}
	mk, created, err := keys.LoadMasterKey(cfg.MasterKey, filepath.Join(cfg.DataDir, "master.key"))
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if created {
		log.Info("generated master key", "path", filepath.Join(cfg.DataDir, "master.key"))
	}
	if a.Keys, err = keys.NewKeystore(a.Store, mk); err != nil {
		return err
	}
	if a.localKeys, err = keys.NewKeystore(a.Local, mk); err != nil {
		return err
	}
	if err := a.loadAdminToken(); err != nil {
		return err
	}
	if err := a.loadWebhookSecret(); err != nil {
		return err
	}
	signer, err := a.ledgerKey(ctx)
	if err != nil {
		return err
	}
	origin, err := a.ledgerOrigin(ctx)
	if err != nil {
		return err
	}
	a.Ledger, err = ledger.Open(ctx, ledger.Config{
		Dir:    filepath.Join(cfg.DataDir, "ledger"),
		Signer: signer.Signer(),
		Origin: origin,
	})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if a.Index, err = a.openIndex(); err != nil {
		return err
	}
	a.Registry = registry.New(a.Ledger, a.Index, registry.Options{Now: opts.Now, Logger: log})
	n, err := a.Registry.CatchUp(ctx)
	if err != nil {
		return fmt.Errorf("registry catch-up: %w", err)
	}
	if n > 0 {
		log.Info("registry index caught up with the ledger", "applied", n)
	}
	a.Registrar = registry.NewRegistrar(a.Registry, a.Keys, a.Store)
	if err := a.ensureServerDID(ctx); err != nil {
		return fmt.Errorf("server DID: %w", err)
	}
	if err := a.ensureIssuerDID(ctx); err != nil {
		return fmt.Errorf("issuer DID: %w", err)
	}
	a.Resolver = did.NewResolver(
		didkey.Method{},
		didjwk.Method{},
		didweb.New(&http.Client{Timeout: 10 * time.Second}, cfg.AllowInsecureDIDWeb),
		a.Registry,
	)
	if err := a.openDataIntegrity(); err != nil {
		return fmt.Errorf("data integrity: %w", err)
	}
	if err := a.openIssuer(ctx, mk, opts); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if err := a.openVerifier(ctx, mk, opts); err != nil {
		return fmt.Errorf("verifier: %w", err)
	}
	if err := a.openOIDC(ctx, mk); err != nil {
		return fmt.Errorf("openid provider: %w", err)
	}
	if err := a.openAccess(ctx, mk); err != nil {
		return fmt.Errorf("access decisions: %w", err)
	}
	if err := a.openWallet(mk, opts); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	a.Echo = a.routes()
	return nil
}

// ledgerOriginKey records the log's origin, fixed when the log is created.
const ledgerOriginKey = "ledger/origin"

// ledgerOrigin returns the origin recorded for this instance's log, or
// records the one derived from the base URL on first start. A log's origin
// is its identity: it does not follow later changes of the base URL.
func (a *App) ledgerOrigin(ctx context.Context) (string, error) {
	want := a.Config.LedgerOrigin()
	raw, err := a.Local.Get(ctx, ledgerOriginKey)
	if err == nil {
		if string(raw) != want {
			a.Log.Warn("the base URL changed since the ledger was created; the log keeps its origin",
				"origin", string(raw), "base_url_origin", want)
		}
		return string(raw), nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return "", err
	}
	if err := a.Local.CompareAndSwap(ctx, ledgerOriginKey, nil, []byte(want), 0); err != nil {
		return "", err
	}
	return want, nil
}

// openIndex opens the derived DID index. The file is written without fsync
// (the ledger is the durable copy); if it cannot be read, for example after
// a power loss, it is discarded and the catch-up rebuilds it from the log.
func (a *App) openIndex() (kv.Store, error) {
	p := filepath.Join(a.Config.DataDir, "index.db")
	s, err := boltkv.OpenWith(p, boltkv.Options{NoSync: true})
	if err != nil {
		if strings.Contains(err.Error(), "locked by another process") {
			return nil, fmt.Errorf("index: %w", err)
		}
		a.Log.Warn("DID index unreadable; rebuilding it from the ledger", "path", p, "error", err)
		if rerr := os.Remove(p); rerr != nil {
			return nil, fmt.Errorf("index: %w (and could not remove it: %v)", err, rerr)
		}
		if s, err = boltkv.OpenWith(p, boltkv.Options{NoSync: true}); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	a.closers = append(a.closers, s.Close)
	return s, nil
}

// ledgerKey loads (or creates on first start) the checkpoint signing key.
func (a *App) ledgerKey(ctx context.Context) (*keys.PrivateKey, error) {
	k, err := a.localKeys.Get(ctx, ledgerKeyID)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	if k, err = keys.Generate(keys.EdDSA); err != nil {
		return nil, err
	}
	if err := a.localKeys.Put(ctx, ledgerKeyID, k); err != nil {
		return nil, err
	}
	a.Log.Info("generated ledger signing key")
	return k, nil
}

// loadAdminToken takes MEDID_ADMIN_TOKEN or reads/creates <data>/admin-token.
func (a *App) loadAdminToken() error {
	var err error
	a.adminToken, a.AdminTokenPath, err = a.loadSecret(a.Config.AdminToken, "admin-token", 16)
	return err
}

// loadWebhookSecret takes MEDID_WEBHOOK_SECRET or reads/creates
// <data>/webhook-secret: the key of the HMAC that signs the verifier's
// webhooks (header Medid-Signature), which their receivers check.
func (a *App) loadWebhookSecret() error {
	var err error
	a.webhookSecret, a.WebhookSecretPath, err = a.loadSecret(a.Config.WebhookSecret, "webhook-secret", 32)
	return err
}

// loadSecret returns the configured value when set, or the secret in the
// data directory's file name (refused when others can read it or it is
// shorter than minLen), or a new random one written there with mode 0600;
// created is that file's path when it was written now.
func (a *App) loadSecret(configured, name string, minLen int) (secret, created string, err error) {
	if configured != "" {
		return configured, "", nil
	}
	p := filepath.Join(a.Config.DataDir, name)
	b, err := os.ReadFile(p)
	if err == nil {
		fi, serr := os.Stat(p)
		if serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", "", fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", p, fi.Mode().Perm())
		}
		secret = strings.TrimSpace(string(b))
		if len(secret) < minLen {
			return "", "", fmt.Errorf("%s: too short (at least %d characters)", p, minLen)
		}
		return secret, "", nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", "", err
	}
	if err := f.Close(); err != nil {
		return "", "", err
	}
	return secret, p, nil
}

// AdminToken returns the admin bearer token.
func (a *App) AdminToken() string { return a.adminToken }

// Serve serves HTTP on l until ctx is done, then shuts down gracefully:
// in-flight requests finish, the ledger is flushed, the store closed.
func (a *App) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           a.Echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if a.Config.TLSCert != "" {
			err = srv.ServeTLS(l, a.Config.TLSCert, a.Config.TLSKey)
		} else {
			err = srv.Serve(l)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		_ = a.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if cerr := a.Close(sctx); err == nil {
		err = cerr
	}
	return err
}

// Close flushes the ledger (with a deadline) and closes the store.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.Audit != nil {
			// The access log's background commitments need the ledger.
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			errs = append(errs, a.Audit.Close(actx))
			cancel()
		}
		if a.Ledger != nil {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			errs = append(errs, a.Ledger.Close(lctx))
			cancel()
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			errs = append(errs, a.closers[i]())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}
