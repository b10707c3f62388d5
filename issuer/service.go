package issuer

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// GrantPreAuthorized is the OAuth grant type of the pre-authorized code flow.
const GrantPreAuthorized = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

// Store keys.
const (
	offerPrefix = "vci/offer/" // offer id → the credential offer JSON
	codePrefix  = "vci/code/"  // sha256(pre-authorized code) → sealed grant
	tokenPrefix = "vci/at/"    // sha256(access token) → sealed grant
	noncePrefix = "vci/nonce/" // sha256(c_nonce) → issue time
	notifPrefix = "vci/notif/" // notification_id → sha256(access token)
)

// Options configures a Service.
type Options struct {
	// CredentialIssuer is the issuer identifier (the base URL), which key
	// proofs must name as their audience.
	CredentialIssuer string
	Configurations   []Configuration
	// Minters by configuration ID.
	Minters map[string]Minter
	// BatchSize is the most credentials one request may ask for (default 10).
	BatchSize int
	OfferTTL  time.Duration // default 10 minutes
	TokenTTL  time.Duration // default 10 minutes
	NonceTTL  time.Duration // default 5 minutes
	// ProofMaxAge bounds a key proof's iat (default 5 minutes); Skew is
	// the tolerated clock skew (default 60 s).
	ProofMaxAge, Skew time.Duration
	Now               func() time.Time
	Logger            *slog.Logger
	// Keys is the issuer's signing key source, for the JWT VC issuer
	// metadata (optional).
	Keys KeySource
	// Recorder, if set, records each issued credential (id, configuration,
	// holder key thumbprint, status entry; never the claims).
	Recorder func(ctx context.Context, cfgID, holderThumbprint string, m *Minted) error

	// DPoPMaxAge bounds a DPoP proof's iat (default 5 minutes); a proof's
	// jti is remembered that long.
	DPoPMaxAge time.Duration
	// DPoPNonce makes DPoP proofs carry a server nonce (RFC 9449 §8): a
	// proof without a current one is answered use_dpop_nonce with a fresh
	// nonce in the DPoP-Nonce header. DPoPNonceTTL is a nonce's lifetime
	// (default 5 minutes).
	DPoPNonce    bool
	DPoPNonceTTL time.Duration
	// DeferredTTL is how long a deferred issuance waits for approval and
	// its access token stays usable at the deferred credential and
	// notification endpoints (default 72 hours).
	DeferredTTL time.Duration
	// DeferredInterval is the wait a wallet is asked to keep between
	// deferred credential requests (default 5 s, at least 1 s).
	DeferredInterval time.Duration
	// DeferredPendingError answers a pending deferred credential request
	// the way OpenID4VCI drafts 13 to 15 did, 400 issuance_pending with
	// interval, instead of 1.0's 202 with transaction_id and interval.
	DeferredPendingError bool
}

// Service is the OpenID4VCI credential issuer.
type Service struct {
	opt     Options
	store   kv.Store
	sealer  *keys.Sealer
	configs map[string]Configuration
}

// New returns an issuer service. sealer encrypts pending claims at rest.
func New(store kv.Store, sealer *keys.Sealer, opts Options) (*Service, error) {
	if opts.CredentialIssuer == "" {
		return nil, errors.New("issuer: CredentialIssuer is required")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.OfferTTL, 10*time.Minute)
	def(&opts.TokenTTL, 10*time.Minute)
	def(&opts.NonceTTL, 5*time.Minute)
	def(&opts.ProofMaxAge, 5*time.Minute)
	def(&opts.Skew, 60*time.Second)
	def(&opts.DPoPMaxAge, 5*time.Minute)
	def(&opts.DPoPNonceTTL, 5*time.Minute)
	def(&opts.DeferredTTL, 72*time.Hour)
	def(&opts.DeferredInterval, 5*time.Second)
	if opts.DeferredInterval < time.Second {
		opts.DeferredInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{opt: opts, store: store, sealer: sealer, configs: map[string]Configuration{}}
	for _, c := range opts.Configurations {
		if _, ok := opts.Minters[c.ID]; !ok {
			return nil, fmt.Errorf("issuer: no minter for configuration %q", c.ID)
		}
		s.configs[c.ID] = c
	}
	return s, nil
}

// grant is what a pre-authorized code (and then an access token) carries.
type grant struct {
	OfferID          string         `json:"offer"`
	ConfigurationIDs []string       `json:"configs"`
	Claims           map[string]any `json:"claims"`
	TxCodeMAC        []byte         `json:"tx,omitempty"`
	Expires          time.Time      `json:"exp"`
	// Deferred offers answer credential requests with a transaction until
	// an admin approves them.
	Deferred bool `json:"deferred,omitempty"`
	// JKT is the thumbprint of the DPoP key the access token is bound to.
	JKT string `json:"jkt,omitempty"`
	// DeferredUntil extends the token's life at the deferred credential
	// and notification endpoints (never at the credential endpoint).
	DeferredUntil time.Time `json:"deferred_until,omitzero"`
}

// usableUntil is when the token stops working everywhere.
func (g *grant) usableUntil() time.Time {
	if g.DeferredUntil.After(g.Expires) {
		return g.DeferredUntil
	}
	return g.Expires
}

// OfferRequest is POST /issuer/offers.
type OfferRequest struct {
	ConfigurationIDs []string       `json:"credential_configuration_ids"`
	Claims           map[string]any `json:"claims"`
	TxCode           bool           `json:"tx_code"`
	// Deferred makes the credential request answer 202 with a
	// transaction_id until an admin approves the offer
	// (POST /issuer/offers/{id}/approve); see ApproveOffer.
	Deferred bool `json:"deferred,omitempty"`
}

// Offer is a created credential offer.
type Offer struct {
	ID       string    `json:"id"`
	OfferURI string    `json:"offer_uri"`
	TxCode   string    `json:"tx_code,omitempty"`
	Expires  time.Time `json:"expires_at"`
	Deferred bool      `json:"deferred,omitempty"`
	// CredentialOffer is the offer object (what credential_offer_uri serves).
	CredentialOffer json.RawMessage `json:"credential_offer"`
}

// ClaimsValidator validates the claims of an offer for one configuration
// (the credential type's rules); it names the offending field on error.
type ClaimsValidator func(cfg Configuration, claims map[string]any) error

// CreateOffer creates a single-use, expiring offer for the given
// configurations. validate checks the claims before anything is stored.
func (s *Service) CreateOffer(ctx context.Context, req OfferRequest, offerURIBase string, validate ClaimsValidator) (*Offer, error) {
	if len(req.ConfigurationIDs) == 0 {
		return nil, &FieldError{Field: "credential_configuration_ids", Reason: "at least one is required"}
	}
	for i, id := range req.ConfigurationIDs {
		if _, ok := s.configs[id]; !ok {
			return nil, &FieldError{Field: fmt.Sprintf("credential_configuration_ids[%d]", i), Reason: fmt.Sprintf("unknown configuration %q", id)}
		}
	}
	if len(req.Claims) == 0 {
		return nil, &FieldError{Field: "claims", Reason: "required"}
	}
	for _, id := range req.ConfigurationIDs {
		if validate != nil {
			if err := validate(s.configs[id], req.Claims); err != nil {
				return nil, err
			}
		}
	}
	id, code := randomToken(16), randomToken(32)
	now := s.opt.Now()
	exp := now.Add(s.opt.OfferTTL)
	g := grant{OfferID: id, ConfigurationIDs: req.ConfigurationIDs, Claims: req.Claims, Expires: exp, Deferred: req.Deferred}
	var tx string
	if req.TxCode {
		tx = randomDigits(6)
		g.TxCodeMAC = s.macTx(code, tx)
	}
	preAuth := map[string]any{"pre-authorized_code": code}
	if req.TxCode {
		preAuth["tx_code"] = map[string]any{"input_mode": "numeric", "length": 6,
			"description": "Enter the code the issuer gave you"}
	}
	offerJSON, err := json.Marshal(map[string]any{
		"credential_issuer":            s.opt.CredentialIssuer,
		"credential_configuration_ids": req.ConfigurationIDs,
		"grants":                       map[string]any{GrantPreAuthorized: preAuth},
	})
	if err != nil {
		return nil, err
	}
	if req.Deferred {
		if err := s.createApproval(ctx, id, now); err != nil {
			return nil, err
		}
	}
	if err := s.putSealed(ctx, codePrefix+hashKey(code), g, s.opt.OfferTTL); err != nil {
		return nil, err
	}
	// The offer itself carries the code: it is sealed too, and served by
	// reference until it is redeemed or expires.
	sealedOffer, err := s.sealer.Seal(offerJSON, []byte(offerPrefix+id))
	if err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, offerPrefix+id, sealedOffer, s.opt.OfferTTL); err != nil {
		return nil, err
	}
	ref := strings.TrimRight(offerURIBase, "/") + "/" + id
	return &Offer{ID: id, OfferURI: "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape(ref),
		TxCode: tx, Expires: exp, Deferred: req.Deferred, CredentialOffer: offerJSON}, nil
}

// CredentialOffer returns the offer JSON for credential_offer_uri.
func (s *Service) CredentialOffer(ctx context.Context, id string) (json.RawMessage, error) {
	raw, err := s.store.Get(ctx, offerPrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrOfferNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.sealer.Open(raw, []byte(offerPrefix+id))
}

// ErrOfferNotFound reports an unknown, expired or redeemed offer.
var ErrOfferNotFound = errors.New("issuer: offer not found, expired or already redeemed")

// ClaimsError reports claims that are invalid for a credential type; Field
// is the JSON path of the first offending claim (e.g. "claims.birthdate").
type ClaimsError struct {
	Field  string
	Reason string
}

func (e *ClaimsError) Error() string { return e.Reason }

// FieldError is a refused admin request naming the field.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// Token redeems a pre-authorized code (RFC 6749 token endpoint with the
// OpenID4VCI pre-authorized grant). The code is taken atomically: it is
// redeemed at most once, and a wrong tx_code burns it. A request with a
// DPoP proof (dp.Proofs) gets a token bound to the proof's key (token_type
// DPoP); an invalid proof is refused before the code is spent.
func (s *Service) Token(ctx context.Context, form url.Values, dp DPoPInput) (*TokenResponse, error) {
	if gt := form.Get("grant_type"); gt != GrantPreAuthorized {
		if gt == "" {
			return nil, invalidRequest("grant_type is required")
		}
		return nil, oauthErr(CodeUnsupportedGrantType, http.StatusBadRequest, "only the pre-authorized code grant is supported")
	}
	code := form.Get("pre-authorized_code")
	if code == "" {
		return nil, invalidRequest("pre-authorized_code is required")
	}
	var jkt string
	if len(dp.Proofs) > 0 {
		p, err := s.checkDPoP(ctx, dp, "", "", http.StatusBadRequest)
		if err != nil {
			return nil, err
		}
		jkt = p.JKT
	}
	// Peek first: a request that cannot succeed (a missing tx_code, or one
	// the offer does not have) is refused without spending the offer.
	var peek grant
	if err := s.getSealed(ctx, codePrefix+hashKey(code), &peek); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, invalidGrant("the pre-authorized code is invalid, expired or already used")
		}
		return nil, err
	}
	switch tx := form.Get("tx_code"); {
	case peek.TxCodeMAC != nil && tx == "":
		return nil, invalidRequest("this offer needs the transaction code (tx_code) the issuer gave the patient")
	case peek.TxCodeMAC == nil && tx != "":
		return nil, invalidRequest("this offer has no transaction code")
	}
	var g grant
	if err := s.takeSealed(ctx, codePrefix+hashKey(code), &g); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, invalidGrant("the pre-authorized code is invalid, expired or already used")
		}
		return nil, err
	}
	// The offer is spent once its code is.
	_ = s.store.Delete(ctx, offerPrefix+g.OfferID)
	if !s.opt.Now().Before(g.Expires) {
		return nil, invalidGrant("the pre-authorized code has expired")
	}
	if g.TxCodeMAC != nil && !hmac.Equal(g.TxCodeMAC, s.macTx(code, form.Get("tx_code"))) {
		return nil, invalidGrant("the transaction code is wrong; the offer is now spent, ask the issuer for a new one")
	}
	g.TxCodeMAC = nil
	g.Expires = s.opt.Now().Add(s.opt.TokenTTL)
	g.JKT = jkt
	tok := randomToken(32)
	if err := s.putSealed(ctx, tokenPrefix+hashKey(tok), g, s.opt.TokenTTL); err != nil {
		return nil, err
	}
	typ := schemeBearer
	if jkt != "" {
		typ = schemeDPoP
	}
	return &TokenResponse{AccessToken: tok, TokenType: typ, ExpiresIn: int(s.opt.TokenTTL.Seconds())}, nil
}

// Nonce issues a fresh c_nonce for key proofs (the nonce endpoint).
func (s *Service) Nonce(ctx context.Context) (string, error) {
	n := randomToken(24)
	t, _ := s.opt.Now().MarshalText()
	return n, s.store.Put(ctx, noncePrefix+hashKey(n), t, s.opt.NonceTTL)
}

// CredentialRequest is the credential endpoint's request body.
type CredentialRequest struct {
	CredentialConfigurationID string `json:"credential_configuration_id,omitempty"`
	CredentialIdentifier      string `json:"credential_identifier,omitempty"`
	Proofs                    *struct {
		JWT []string `json:"jwt"`
	} `json:"proofs,omitempty"`
}

// CredentialResponse is the answer of the credential and deferred
// credential endpoints: the credentials (HTTP 200), or, while a deferred
// issuance waits, a transaction_id and the interval in seconds to wait
// before asking the deferred credential endpoint (HTTP 202).
type CredentialResponse struct {
	Credentials    []IssuedCredential `json:"credentials,omitempty"`
	NotificationID string             `json:"notification_id,omitempty"`
	TransactionID  string             `json:"transaction_id,omitempty"`
	Interval       int                `json:"interval,omitempty"`
}

// Pending reports whether r defers issuance (HTTP 202).
func (r *CredentialResponse) Pending() bool { return r.TransactionID != "" }

// IssuedCredential is one entry of credentials.
type IssuedCredential struct {
	Credential any `json:"credential"`
}

// Credential handles the credential endpoint for an authorized access
// token: every key proof must verify and carry one fresh c_nonce (consumed
// once for the whole request), and each proof gets its own credential. For
// a deferred offer not yet approved, the request is recorded and answered
// with a transaction_id (see DeferredCredential).
func (s *Service) Credential(ctx context.Context, a *Access, req *CredentialRequest) (*CredentialResponse, error) {
	g := a.g
	if !s.opt.Now().Before(g.Expires) {
		return nil, invalidToken("the access token has expired")
	}
	if req.CredentialIdentifier != "" {
		return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "credential_identifier is not supported; use credential_configuration_id")
	}
	id := req.CredentialConfigurationID
	if id == "" {
		return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "credential_configuration_id is required")
	}
	cfg, ok := s.configs[id]
	if !ok {
		return nil, oauthErr(CodeUnknownConfiguration, http.StatusBadRequest, "unknown credential configuration %q", id)
	}
	offered := false
	for _, c := range g.ConfigurationIDs {
		offered = offered || c == id
	}
	if !offered {
		return nil, oauthErr(CodeCredentialRequestDenied, http.StatusBadRequest, "the offer did not include %q", id)
	}
	if req.Proofs == nil || len(req.Proofs.JWT) == 0 {
		return nil, invalidProof("proofs.jwt is required: the credential is bound to a key the wallet proves it holds")
	}
	if len(req.Proofs.JWT) > s.opt.BatchSize {
		return nil, oauthErr(CodeInvalidCredentialRequest, http.StatusBadRequest, "at most %d proofs per request", s.opt.BatchSize)
	}
	proofs := make([]*verifiedProof, len(req.Proofs.JWT))
	nonce := ""
	for i, p := range req.Proofs.JWT {
		vp, err := verifyProof(p, s.opt.CredentialIssuer, s.opt.Now(), s.opt.ProofMaxAge, s.opt.Skew)
		if err != nil {
			return nil, err
		}
		if i > 0 && vp.Nonce != nonce {
			return nil, oauthErr(CodeInvalidNonce, http.StatusBadRequest, "all proofs of one request must carry the same c_nonce")
		}
		nonce = vp.Nonce
		proofs[i] = vp
	}
	for i := range proofs {
		for j := range i {
			if proofs[i].Thumbprint == proofs[j].Thumbprint {
				return nil, invalidProof("proofs %d and %d use the same key; each credential of a batch needs its own key", j, i)
			}
		}
	}
	// The nonce is consumed once, after every proof verified.
	if _, err := s.store.Take(ctx, noncePrefix+hashKey(nonce)); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, oauthErr(CodeInvalidNonce, http.StatusBadRequest, "c_nonce is unknown, expired or already used; fetch a new one from the nonce endpoint")
		}
		return nil, err
	}
	holders := make([]holder, len(proofs))
	for i, p := range proofs {
		holders[i] = holder{Key: p.Key, JWK: p.JWK, Thumbprint: p.Thumbprint}
	}
	if g.Deferred {
		approved, err := s.approved(ctx, g.OfferID)
		if err != nil {
			return nil, err
		}
		if !approved {
			return s.deferIssuance(ctx, a, id, holders)
		}
	}
	return s.mint(ctx, a.tokenHash, cfg, g.Claims, holders, s.opt.TokenTTL)
}

// holder is a key the wallet proved possession of.
type holder struct {
	Key        crypto.PublicKey
	JWK        json.RawMessage
	Thumbprint string
}

// mint issues one credential of cfg per holder key and registers a
// notification id for the token (by its hash) that lives notifTTL.
func (s *Service) mint(ctx context.Context, tokenHash string, cfg Configuration, claims map[string]any, holders []holder, notifTTL time.Duration) (*CredentialResponse, error) {
	resp := &CredentialResponse{NotificationID: randomToken(16)}
	if err := s.store.Put(ctx, notifPrefix+resp.NotificationID, []byte(tokenHash), notifTTL); err != nil {
		return nil, err
	}
	minter := s.opt.Minters[cfg.ID]
	for _, h := range holders {
		m, err := minter.Mint(ctx, MintRequest{Configuration: cfg, Claims: claims, Holder: h.Key, HolderJWK: h.JWK})
		if err != nil {
			return nil, err
		}
		if s.opt.Recorder != nil {
			if err := s.opt.Recorder(ctx, cfg.ID, h.Thumbprint, m); err != nil {
				return nil, fmt.Errorf("issuer: record issuance: %w", err)
			}
		}
		resp.Credentials = append(resp.Credentials, IssuedCredential{Credential: m.Credential})
		s.opt.Logger.InfoContext(ctx, "credential issued", "configuration", cfg.ID, "credential_id", m.ID, "status", m.Status, "holder_key", h.Thumbprint)
	}
	return resp, nil
}

// macTx binds a transaction code to its pre-authorized code. It is stored
// inside the sealed grant; the code itself is high-entropy, so the hash
// reveals nothing without it.
// Notification events (OpenID4VCI 1.0 §11).
var notificationEvents = map[string]bool{"credential_accepted": true, "credential_failure": true, "credential_deleted": true}

// Notify records a wallet's notification about credentials it received
// with the access token a. The notification id must belong to that token.
func (s *Service) Notify(ctx context.Context, a *Access, id, event string) error {
	if id == "" || !notificationEvents[event] {
		return oauthErr("invalid_notification_request", http.StatusBadRequest, "notification_id and event (credential_accepted, credential_failure or credential_deleted) are required")
	}
	owner, err := s.store.Get(ctx, notifPrefix+id)
	if errors.Is(err, kv.ErrNotFound) || (err == nil && string(owner) != a.tokenHash) {
		return oauthErr("invalid_notification_id", http.StatusBadRequest, "unknown notification_id")
	}
	if err != nil {
		return err
	}
	s.opt.Logger.InfoContext(ctx, "wallet notification", "event", event, "offer", a.g.OfferID)
	return nil
}

// OfferLink returns the offer_uri of a pending offer, for its QR code.
func (s *Service) OfferLink(ctx context.Context, id string) (string, error) {
	if _, err := s.CredentialOffer(ctx, id); err != nil {
		return "", err
	}
	return "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape(s.opt.CredentialIssuer+"/issuer/offers/"+id), nil
}

func (s *Service) macTx(code, tx string) []byte {
	sum := sha256.Sum256([]byte(code + "\x00" + tx))
	return sum[:]
}

func (s *Service) putSealed(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := s.sealer.Seal(b, []byte(key))
	if err != nil {
		return err
	}
	return s.store.CompareAndSwap(ctx, key, nil, sealed, ttl)
}

func (s *Service) openInto(key string, raw []byte, v any) error {
	b, err := s.sealer.Open(raw, []byte(key))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (s *Service) takeSealed(ctx context.Context, key string, v any) error {
	raw, err := s.store.Take(ctx, key)
	if err != nil {
		return err
	}
	return s.openInto(key, raw, v)
}

func (s *Service) getSealed(ctx context.Context, key string, v any) error {
	raw, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	return s.openInto(key, raw, v)
}

// hashKey stores secrets (codes, tokens, nonces) only by their hash.
func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomDigits(n int) string {
	const digits = "0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[int(randUint32()%10)]
	}
	return string(b)
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
