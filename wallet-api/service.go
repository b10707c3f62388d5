package walletapi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/wallet-api/vciclient"
)

// Options configures a Service. The zero value of every field has a
// sensible default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// SessionTTL is how long a session token lives (default 12 hours).
	SessionTTL time.Duration
	// AllowHTTPLoopback lets the wallet talk plain http to loopback hosts
	// (issuers, status lists, metadata): a local server and tests. Every
	// other URL must be https.
	AllowHTTPLoopback bool
	// Copies is how many copies of each credential the wallet asks for when
	// the issuer offers batch issuance (default 3, capped by the issuer's
	// batch_size). Each copy is bound to its own fresh key.
	Copies int
	// StatusTTL bounds how long a fetched status list is used before it is
	// fetched again (default 60 s; a shorter ttl in the list wins).
	// StatusMaxStale is how long past that a stale list may still be shown
	// while it is refreshed in the background (default 10 minutes).
	StatusTTL, StatusMaxStale time.Duration
	// FetchTimeout bounds each outbound exchange: metadata, status lists,
	// DID resolution (default 10 s).
	FetchTimeout time.Duration
	// SignInFailures is how many wrong passwords a username may get within
	// SignInWindow before sign-in is refused (default 5 in 15 minutes).
	SignInFailures int
	SignInWindow   time.Duration
	// PasswordParams and BackupParams are the argon2id parameters of new
	// password hashes and new backups (defaults DefaultPasswordParams and
	// DefaultBackupParams). Existing hashes keep theirs.
	PasswordParams, BackupParams Argon2Params
	// RegistrarURL is the base URL of the medid server whose DIF registrar
	// (/1.0/create?method=medid) registers accounts' did:medid DIDs in
	// client-managed mode; empty disables POST /wallet/dids.
	RegistrarURL string
	// ClientRate and ClientBurst limit account creation, sign-in and import
	// per client address (default 1 per second, bursts of 10).
	ClientRate  float64
	ClientBurst int
	// JSONLDContexts are the JSON-LD contexts, besides those bundled with
	// credentials/jsonld, that ldp_vc credentials may use: for medid's
	// issuer, jsonld.HealthContext(its base URL). Contexts are never
	// fetched; an ldp_vc naming any other is refused.
	JSONLDContexts []jsonld.Context
	// X509Roots are the trust anchors for verifiers that sign their
	// requests with an x509_san_dns certificate; nil means the system's
	// roots.
	X509Roots *x509.CertPool
	// Consents and the access log (consent.go, accesslog.go); see
	// ConsentOptions. Unset, their routes are not registered.
	ConsentOptions
}

// Service is the wallet.
type Service struct {
	opt      Options
	store    kv.Store
	sealer   *keys.Sealer
	resolver *did.Resolver
	http     *http.Client
	vci      *vciclient.Client
	status   *statusCache
	issuers  *issuerMetaCache
	// jsonld knows the contexts ldp_vc credentials may use; di verifies
	// and makes Data Integrity proofs with them.
	jsonld *jsonld.Loader
	di     *dataintegrity.Suite
	// hashSlots and backupSlots bound concurrent argon2id computations
	// (memory) for passwords and for backups.
	hashSlots, backupSlots chan struct{}
}

// New returns a wallet over store. sealer wraps each account's data key
// (internal/app passes keys.NewSealer(masterKey, "wallet/account-key"));
// resolver resolves issuers' DIDs; httpClient makes every outbound request
// (nil, the recommended value: NewHTTPClient(FetchTimeout,
// AllowHTTPLoopback), which refuses internal addresses).
func New(store kv.Store, sealer *keys.Sealer, resolver *did.Resolver, httpClient *http.Client, opts Options) (*Service, error) {
	if store == nil || sealer == nil || resolver == nil {
		return nil, errors.New("walletapi: New needs a store, a sealer and a resolver")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.SessionTTL, 12*time.Hour)
	def(&opts.StatusTTL, 60*time.Second)
	def(&opts.StatusMaxStale, 10*time.Minute)
	def(&opts.FetchTimeout, 10*time.Second)
	def(&opts.SignInWindow, 15*time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Copies <= 0 {
		opts.Copies = 3
	}
	if opts.ClientRate <= 0 {
		opts.ClientRate = 1
	}
	if opts.ClientBurst <= 0 {
		opts.ClientBurst = 10
	}
	if opts.SignInFailures <= 0 {
		opts.SignInFailures = 5
	}
	if opts.PasswordParams == (Argon2Params{}) {
		opts.PasswordParams = DefaultPasswordParams
	}
	if opts.BackupParams == (Argon2Params{}) {
		opts.BackupParams = DefaultBackupParams
	}
	if err := opts.PasswordParams.check(Argon2Params{Time: 1, Memory: 8, Threads: 1}); err != nil {
		return nil, fmt.Errorf("walletapi: PasswordParams: %w", err)
	}
	if err := opts.BackupParams.check(Argon2Params{Time: 1, Memory: 8, Threads: 1}); err != nil {
		return nil, fmt.Errorf("walletapi: BackupParams: %w", err)
	}
	loader, err := jsonld.NewLoader(opts.JSONLDContexts...)
	if err != nil {
		return nil, fmt.Errorf("walletapi: JSONLDContexts: %w", err)
	}
	if httpClient == nil {
		httpClient = NewHTTPClient(opts.FetchTimeout, opts.AllowHTTPLoopback)
	}
	s := &Service{opt: opts, store: store, sealer: sealer, resolver: resolver, http: httpClient,
		jsonld: loader, di: dataintegrity.New(loader),
		hashSlots: make(chan struct{}, 4), backupSlots: make(chan struct{}, 2)}
	s.vci = &vciclient.Client{HTTP: httpClient, AllowHTTPLoopback: opts.AllowHTTPLoopback}
	s.status = newStatusCache()
	s.issuers = &issuerMetaCache{entries: map[string]issuerMetaEntry{}}
	return s, nil
}

// withSlot runs f holding one of the password hashing slots.
func (s *Service) withSlot(ctx context.Context, f func()) error { return hold(ctx, s.hashSlots, f) }

// withBackupSlot runs f holding one of the backup key derivation slots.
func (s *Service) withBackupSlot(ctx context.Context, f func()) error {
	return hold(ctx, s.backupSlots, f)
}

func hold(ctx context.Context, slots chan struct{}, f func()) error {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-slots }()
	f()
	return nil
}

func (s *Service) now() time.Time { return s.opt.Now() }
