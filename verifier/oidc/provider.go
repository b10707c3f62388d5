package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// Route paths, relative to Options.BaseURL. The issuer is BaseURL +
// PathPrefix, and its discovery document is at Issuer +
// "/.well-known/openid-configuration", as OpenID Connect Discovery 1.0
// (and go-oidc) derive it. The prefix keeps this provider apart from the
// OpenID4VCI authorization server whose issuer is BaseURL itself.
const (
	PathPrefix    = "/oidc"
	PathDiscovery = PathPrefix + "/.well-known/openid-configuration"
	PathAuthorize = PathPrefix + "/authorize"
	PathToken     = PathPrefix + "/token"
	PathUserInfo  = PathPrefix + "/userinfo"
	PathJWKS      = PathPrefix + "/jwks"
	PathClients   = PathPrefix + "/clients"
	PathKeys      = PathPrefix + "/keys"
)

// Options configure a Provider.
type Options struct {
	// BaseURL is the public URL the routes are served under. Required.
	BaseURL string
	// SigningKey signs ID tokens until a rotation (RotateSigningKey); it
	// must be an ES256 key. KeyID is its kid in the JWKS. Both required.
	SigningKey *keys.PrivateKey
	KeyID      string
	// Keystore keeps the keys RotateSigningKey makes; without it the
	// signing key does not rotate.
	Keystore SigningKeystore
	// PairwiseSecret keys the pairwise subject identifiers: at least 32
	// bytes, kept for as long as the subjects must stay stable. Required.
	PairwiseSecret []byte
	// Presentations runs the OpenID4VP sessions. Required.
	Presentations Presentations
	// Template is the DCQL template the login asks for (default
	// "patient-identity").
	Template string
	// TransactionTTL bounds a sign-in from the authorize request to its
	// completion (default 10 minutes); CodeTTL an authorization code's
	// life (default 1 minute); AccessTokenTTL and IDTokenTTL the tokens'
	// (default 10 and 5 minutes).
	TransactionTTL, CodeTTL, AccessTokenTTL, IDTokenTTL time.Duration
	// PollInterval is how often the authorize page asks for the status
	// (default 2 s).
	PollInterval time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	// OnLogin, if set, is called when a sign-in ends at its completion
	// URL: verified (an authorization code was issued) or failed. It runs
	// on the request's goroutine, before the browser is redirected, and
	// gets names only, never claim values. For an access log.
	OnLogin func(ctx context.Context, e LoginEvent)
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("oidc: BaseURL must be an absolute http(s) URL")
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.SigningKey == nil || o.SigningKey.Signer() == nil || o.SigningKey.Algorithm() != keys.ES256 {
		return errors.New("oidc: SigningKey must be an ES256 key")
	}
	if o.KeyID == "" || len(o.KeyID) > 128 || !printable(o.KeyID) {
		return errors.New("oidc: KeyID is required (printable, at most 128 characters)")
	}
	if len(o.PairwiseSecret) < 32 {
		return errors.New("oidc: PairwiseSecret must be at least 32 bytes")
	}
	if o.Presentations == nil {
		return errors.New("oidc: Presentations is required")
	}
	if o.Template == "" {
		o.Template = "patient-identity"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.TransactionTTL, 10*time.Minute)
	def(&o.CodeTTL, time.Minute)
	def(&o.AccessTokenTTL, 10*time.Minute)
	def(&o.IDTokenTTL, 5*time.Minute)
	def(&o.PollInterval, 2*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Provider is the OpenID Provider.
type Provider struct {
	opt    Options
	store  kv.Store
	sealer *keys.Sealer
	issuer string
	secure bool // the issuer is https: cookies are Secure
	// signing holds the ID token signing keys (see signing.go).
	signing signingKeys
}

// New returns a Provider over store; sealer encrypts sign-ins, codes and
// access tokens at rest (they carry the disclosed claims).
func New(store kv.Store, sealer *keys.Sealer, opts Options) (*Provider, error) {
	if store == nil || sealer == nil {
		return nil, errors.New("oidc: store and sealer are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{opt: opts, store: store, sealer: sealer, issuer: opts.BaseURL + PathPrefix,
		secure: strings.HasPrefix(opts.BaseURL, "https:")}
	if _, err := p.keys(context.Background(), true); err != nil {
		return nil, err
	}
	return p, nil
}

// Issuer is the provider's issuer identifier, BaseURL + "/oidc".
func (p *Provider) Issuer() string { return p.issuer }

// JWKS is the JSON Web Key Set: the key that signs ID tokens now, the
// next one after a rotation, and a replaced one while tokens it signed
// may still be checked.
func (p *Provider) JWKS(ctx context.Context) ([]byte, error) {
	return p.jwksAt(ctx, p.opt.Now())
}

// Metadata is the OpenID Provider metadata (OpenID Connect Discovery 1.0
// section 3).
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
}

// Metadata returns the discovery document.
func (p *Provider) Metadata() *Metadata {
	base := p.opt.BaseURL
	return &Metadata{
		Issuer:                            p.issuer,
		AuthorizationEndpoint:             base + PathAuthorize,
		TokenEndpoint:                     base + PathToken,
		UserInfoEndpoint:                  base + PathUserInfo,
		JWKSURI:                           base + PathJWKS,
		ScopesSupported:                   []string{ScopeOpenID, ScopeProfile},
		ResponseTypesSupported:            []string{ResponseTypeCode},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{GrantAuthorization},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"ES256"},
		TokenEndpointAuthMethodsSupported: []string{AuthSecretBasic, AuthSecretPost, AuthNone},
		ClaimsSupported:                   append([]string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"}, SupportedClaims...),
		CodeChallengeMethodsSupported:     []string{MethodS256},
		AuthorizationResponseIssParameter: true,
	}
}

// Store keys.
const (
	txnPrefix      = "oidc/txn/"      // transaction id → sealed txnRecord
	codePrefix     = "oidc/code/"     // sha256(code) → sealed grant; taken by the token endpoint
	codeUsedPrefix = "oidc/codeused/" // sha256(code) → sha256(access token), to revoke on replay
	tokenPrefix    = "oidc/at/"       // sha256(access token) → sealed grant
)

// putSealed seals v under key (the key is the associated data).
func (p *Provider) putSealed(ctx context.Context, key string, v any, ttl time.Duration) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := p.sealer.Seal(plain, []byte(key))
	if err != nil {
		return err
	}
	return p.store.Put(ctx, key, sealed, ttl)
}

func (p *Provider) openSealed(key string, sealed []byte, v any) error {
	plain, err := p.sealer.Open(sealed, []byte(key))
	if err != nil {
		return fmt.Errorf("oidc: open %s: %w", strings.SplitN(key, "/", 3)[1], err)
	}
	return json.Unmarshal(plain, v)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

var errMalformed = errors.New("malformed")
