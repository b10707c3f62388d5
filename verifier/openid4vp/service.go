package openid4vp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/credentials/presexch"
	"github.com/medid/medid/internal/jsonx"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// PresentationVerifier verifies one presentation from a vp_token: its
// integrity, the credential's issuer, validity and status, and the holder
// binding to nonce and audience (the full client_id). presentation is the
// JSON value from the vp_token: a JSON string for dc+sd-jwt and
// jwt_vc_json, an object for ldp_vc. format is the credential query's.
type PresentationVerifier interface {
	VerifyPresentation(ctx context.Context, format string, presentation json.RawMessage, nonce, audience string) (*VerifiedPresentation, error)
}

// VerifiedPresentation is what a PresentationVerifier returns for a
// presentation whose every check passed.
type VerifiedPresentation struct {
	Format string `json:"format"`
	Issuer string `json:"issuer,omitempty"`
	// Claims are the claims the holder disclosed (and the always-visible
	// ones), nothing else.
	Claims map[string]any `json:"claims"`
	// HolderBinding is true when the presentation's binding to the holder
	// (a key-binding JWT, a VP signature or proof) was checked for the
	// nonce and audience.
	HolderBinding bool    `json:"holder_binding"`
	Checks        []Check `json:"checks,omitempty"`
}

// Check is one named verification check and its outcome.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// ClientIDPrefix is an OpenID4VP 1.0 Client Identifier Prefix (section 5.9).
type ClientIDPrefix string

// The prefixes medid's verifier can use.
const (
	PrefixDecentralizedIdentifier ClientIDPrefix = "decentralized_identifier"
	PrefixX509SANDNS              ClientIDPrefix = "x509_san_dns"
	PrefixRedirectURI             ClientIDPrefix = "redirect_uri"
)

// AudienceSelfIssued is the aud of a request object under static discovery.
const AudienceSelfIssued = "https://self-issued.me/v2"

// ContentTypeRequestObject is the media type of the request_uri response.
const ContentTypeRequestObject = "application/oauth-authz-req+jwt"

// Session states reported by Status.
const (
	StatusPending  = "pending"
	StatusVerified = "verified"
	StatusFailed   = "failed"
	StatusExpired  = "expired"
)

// Route paths, relative to Options.BaseURL.
const (
	PathSessions  = "/verifier/sessions"
	PathRequests  = "/verifier/requests"
	PathResponses = "/verifier/responses"
)

// Store keys.
const (
	sessionPrefix = "vp/sess/"  // session id → sealed record
	requestPrefix = "vp/req/"   // request id → session id
	noncePrefix   = "vp/nonce/" // sha256(nonce) → session id; taken by the response
	codePrefix    = "vp/code/"  // sha256(response_code) → session id; taken by the frontend
)

// VerifierInfo is one verifier_info attestation (section 5.1), e.g. an
// OrganizationCredential about the verifier: Format names the format
// ("dc+sd-jwt", "jwt_vc_json", …), Data is the credential (a string) or an
// object.
type VerifierInfo struct {
	Format        string          `json:"format"`
	Data          json.RawMessage `json:"data"`
	CredentialIDs []string        `json:"credential_ids,omitempty"`
}

// Options configure a Service.
type Options struct {
	// BaseURL is the public URL the routes are served under; request_uri,
	// response_uri and status_uri are built from it. Required.
	BaseURL string
	// ClientName names the verifier to wallets (client_metadata
	// client_name). Required.
	ClientName string
	// DID is the verifier's own DID (did:medid:…), for the
	// decentralized_identifier prefix, and Signer signs its request objects
	// with a verification method of that DID.
	DID    string
	Signer Signer
	// X509 enables the x509_san_dns prefix.
	X509 *X509Signer
	// AllowRedirectURI enables the unsigned redirect_uri prefix.
	AllowRedirectURI bool
	// DefaultPrefix is used when a session does not name one; zero means
	// decentralized_identifier.
	DefaultPrefix ClientIDPrefix
	// Verifier and Queries are the verification core and the DCQL engine.
	// Required.
	Verifier PresentationVerifier
	Queries  QueryEngine
	// VerifierInfo is sent as verifier_info in every request (optional).
	VerifierInfo []VerifierInfo
	// VPFormats is client_metadata vp_formats_supported; nil means
	// DefaultVPFormats.
	VPFormats map[string]any
	// RedirectURI is the frontend URL same-device sessions send the wallet
	// back to, with "#response_code=…" appended. Empty disables same-device
	// sessions.
	RedirectURI string
	// SessionTTL is how long a wallet may answer (default 5 minutes);
	// ResultTTL how long a session is kept after that (default 30 minutes);
	// ResponseCodeTTL how long a response code stays valid (default 5
	// minutes).
	SessionTTL, ResultTTL, ResponseCodeTTL time.Duration
	// WebhookSecret, if set, signs webhooks (header Medid-Signature).
	WebhookSecret []byte
	// HTTPClient delivers webhooks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// AllowInsecureWebhooks accepts http:// webhook URLs (tests only).
	AllowInsecureWebhooks bool
	// PollInterval is how often an event stream re-reads the store, for
	// changes made by another instance (default 2 s).
	PollInterval time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// DefaultVPFormats are the formats the verification core accepts (section
// B; sd-jwt_alg_values and kb-jwt_alg_values take fully-specified names).
func DefaultVPFormats() map[string]any {
	return map[string]any{
		"dc+sd-jwt": map[string]any{
			"sd-jwt_alg_values": []string{"ES256", "Ed25519"},
			"kb-jwt_alg_values": []string{"ES256", "Ed25519"},
		},
		"jwt_vc_json": map[string]any{"alg_values": []string{"ES256", "EdDSA"}},
		"ldp_vc": map[string]any{
			"proof_type_values":  []string{"DataIntegrityProof"},
			"cryptosuite_values": []string{"eddsa-rdfc-2022", "ecdsa-rdfc-2019"},
		},
	}
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("openid4vp: BaseURL must be an absolute http(s) URL")
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.ClientName == "" {
		return errors.New("openid4vp: ClientName is required")
	}
	if o.Verifier == nil || o.Queries == nil {
		return errors.New("openid4vp: Verifier and Queries are required")
	}
	if o.DefaultPrefix == "" {
		o.DefaultPrefix = PrefixDecentralizedIdentifier
	}
	if o.Signer != nil || o.DID != "" {
		if o.Signer == nil || !strings.HasPrefix(o.DID, "did:") {
			return errors.New("openid4vp: the decentralized_identifier prefix needs DID and Signer")
		}
		if a := o.Signer.Alg(); a != "ES256" && a != "EdDSA" {
			return fmt.Errorf("openid4vp: signer alg %q is not ES256 or EdDSA", a)
		}
		if _, err := o.requestKID(); err != nil {
			return err
		}
	}
	if o.X509 != nil {
		if h := u.Hostname(); h != o.X509.DNSName() {
			return fmt.Errorf("openid4vp: the response URI host %q must be the certificate's DNS name %q", h, o.X509.DNSName())
		}
	}
	if !o.enabled(o.DefaultPrefix) {
		return fmt.Errorf("openid4vp: the default prefix %q is not configured", o.DefaultPrefix)
	}
	if o.RedirectURI != "" {
		r, err := url.Parse(o.RedirectURI)
		if err != nil || (r.Scheme != "https" && r.Scheme != "http") || r.Host == "" || r.Fragment != "" {
			return errors.New("openid4vp: RedirectURI must be an absolute http(s) URL without a fragment")
		}
	}
	for i, vi := range o.VerifierInfo {
		if vi.Format == "" || len(vi.Data) == 0 || !json.Valid(vi.Data) {
			return fmt.Errorf("openid4vp: VerifierInfo[%d] needs a format and JSON data", i)
		}
	}
	if o.VPFormats == nil {
		o.VPFormats = DefaultVPFormats()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.SessionTTL, 5*time.Minute)
	def(&o.ResultTTL, 30*time.Minute)
	def(&o.ResponseCodeTTL, 5*time.Minute)
	def(&o.PollInterval, 2*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// requestKID is the signer's kid as an absolute DID URL of Options.DID.
func (o *Options) requestKID() (string, error) {
	kid := o.Signer.KeyID()
	if strings.HasPrefix(kid, "#") {
		kid = o.DID + kid
	}
	if !strings.HasPrefix(kid, o.DID+"#") || len(kid) == len(o.DID)+1 {
		return "", fmt.Errorf("openid4vp: signer kid %q is not a verification method of %s", kid, o.DID)
	}
	return kid, nil
}

func (o *Options) enabled(p ClientIDPrefix) bool {
	switch p {
	case PrefixDecentralizedIdentifier:
		return o.Signer != nil
	case PrefixX509SANDNS:
		return o.X509 != nil
	case PrefixRedirectURI:
		return o.AllowRedirectURI
	}
	return false
}

// Service runs OpenID4VP presentation sessions.
type Service struct {
	opt    Options
	store  kv.Store
	sealer *keys.Sealer
	events *broker
	// webhooks in flight, for Close.
	wg sync.WaitGroup
}

// New returns a Service over store; sealer encrypts sessions at rest.
func New(store kv.Store, sealer *keys.Sealer, opts Options) (*Service, error) {
	if store == nil || sealer == nil {
		return nil, errors.New("openid4vp: store and sealer are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Service{opt: opts, store: store, sealer: sealer, events: newBroker()}, nil
}

// Close waits for webhook deliveries in flight.
func (s *Service) Close() { s.wg.Wait() }

// SessionRequest is the body of POST /verifier/sessions.
type SessionRequest struct {
	// DCQLQuery, Template or PresentationDefinition (exactly one).
	DCQLQuery json.RawMessage `json:"dcql_query,omitempty"`
	Template  string          `json:"template,omitempty"`
	// PresentationDefinition is a DIF Presentation Exchange 2.0
	// definition, for wallets that predate DCQL: the request then carries
	// it instead of a dcql_query, and the wallet answers with a
	// presentation_submission. It must fit credentials/presexch's subset.
	PresentationDefinition json.RawMessage `json:"presentation_definition,omitempty"`
	// Purpose tells the holder why the verifier asks. Required.
	Purpose string `json:"purpose"`
	// ResponseMode is direct_post (default) or direct_post.jwt.
	ResponseMode string `json:"response_mode,omitempty"`
	// ClientIDPrefix picks the prefix; empty means the configured default.
	ClientIDPrefix ClientIDPrefix `json:"client_id_prefix,omitempty"`
	// RequestURIMethod is get (default) or post.
	RequestURIMethod string `json:"request_uri_method,omitempty"`
	// SameDevice sends the wallet back to the configured redirect URI with
	// a response_code after it answers.
	SameDevice bool `json:"same_device,omitempty"`
	// WebhookURL receives the final status, POSTed as JSON.
	WebhookURL string `json:"webhook_url,omitempty"`
}

// Session is a created presentation session (the 201 body).
type Session struct {
	ID string `json:"id"`
	// AuthorizationRequest is the openid4vp:// link for the wallet.
	AuthorizationRequest string    `json:"authorization_request"`
	StatusURI            string    `json:"status_uri"`
	EventsURI            string    `json:"events_uri"`
	QRCodePNG            string    `json:"qr_code_png"`
	QRCodeSVG            string    `json:"qr_code_svg"`
	ClientID             string    `json:"client_id"`
	RequestURI           string    `json:"request_uri,omitempty"`
	ResponseMode         string    `json:"response_mode"`
	ExpiresAt            time.Time `json:"expires_at"`
	// DCQLQuery is the query the response is checked against: the one
	// given, the template's, or the translation of the presentation
	// definition.
	DCQLQuery json.RawMessage `json:"dcql_query"`
	// PresentationDefinition is the definition sent to the wallet, for a
	// Presentation Exchange session.
	PresentationDefinition json.RawMessage `json:"presentation_definition,omitempty"`
}

// Status is a session's state (GET status_uri, events, webhooks, and the
// same-device result).
type Status struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Purpose    string     `json:"purpose"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Credentials are the verified presentations by credential query id
	// (by input descriptor id in a Presentation Exchange session): the
	// disclosed claims and the checks.
	Credentials map[string][]*VerifiedPresentation `json:"credentials,omitempty"`
	Error       *StatusError                       `json:"error,omitempty"`
}

// StatusError says why a session failed: a wallet error code
// (access_denied, …), verification_failed or query_not_satisfied.
type StatusError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Checks are the checks of the presentation that failed verification,
	// when the PresentationVerifier gave them (see FailedChecks).
	Checks []Check `json:"checks,omitempty"`
}

// FailedChecks is implemented by PresentationVerifier errors that carry
// the checks of a presentation that did not verify; a failed session keeps
// them, so that a caller can tell, say, a revoked credential from a forged
// one.
type FailedChecks interface {
	error
	FailedChecks() []Check
}

// record is a session as stored (sealed).
type record struct {
	ID          string                             `json:"id"`
	RequestID   string                             `json:"rid"`
	Status      string                             `json:"status"`
	Prefix      ClientIDPrefix                     `json:"prefix"`
	ClientID    string                             `json:"client_id"`
	Mode        string                             `json:"mode"`
	URIMethod   string                             `json:"uri_method,omitempty"`
	Query       json.RawMessage                    `json:"query"`
	Definition  json.RawMessage                    `json:"pd,omitempty"` // a presentation_definition, compact
	Purpose     string                             `json:"purpose"`
	Nonce       string                             `json:"nonce"`
	State       string                             `json:"state"`
	EncKID      string                             `json:"enc_kid,omitempty"`
	EncKey      []byte                             `json:"enc_key,omitempty"` // PKCS #8
	SameDevice  bool                               `json:"same_device,omitempty"`
	WebhookURL  string                             `json:"webhook,omitempty"`
	Created     time.Time                          `json:"created"`
	Expires     time.Time                          `json:"expires"`
	Finished    time.Time                          `json:"finished,omitzero"`
	Credentials map[string][]*VerifiedPresentation `json:"credentials,omitempty"`
	Err         *StatusError                       `json:"err,omitempty"`
}

func (s *Service) status(r *record) *Status {
	st := &Status{ID: r.ID, Status: r.Status, Purpose: r.Purpose, CreatedAt: r.Created, ExpiresAt: r.Expires,
		Credentials: r.Credentials, Error: r.Err}
	if r.Status == StatusPending && !s.opt.Now().Before(r.Expires) {
		st.Status = StatusExpired
	}
	if !r.Finished.IsZero() {
		f := r.Finished
		st.FinishedAt = &f
	}
	return st
}

// CreateSession validates req and starts a session.
func (s *Service) CreateSession(ctx context.Context, req SessionRequest) (*Session, error) {
	r := &record{Status: StatusPending, Purpose: req.Purpose, SameDevice: req.SameDevice}
	if err := checkText(req.Purpose, 300); err != nil {
		return nil, &FieldError{Field: "purpose", Reason: err.Error()}
	}
	switch {
	case len(req.PresentationDefinition) > 0 && (len(req.DCQLQuery) > 0 || req.Template != ""):
		return nil, &FieldError{Field: "presentation_definition", Reason: "give exactly one of dcql_query, template or presentation_definition"}
	case len(req.DCQLQuery) > 0 && req.Template != "":
		return nil, &FieldError{Field: "dcql_query", Reason: "give either dcql_query or template, not both"}
	case len(req.PresentationDefinition) > 0:
		def, err := presexch.Parse(req.PresentationDefinition)
		if err != nil {
			return nil, &FieldError{Field: "presentation_definition", Reason: err.Error()}
		}
		if r.Definition, err = compactJSON(req.PresentationDefinition); err != nil {
			return nil, &FieldError{Field: "presentation_definition", Reason: "malformed JSON"}
		}
		if r.Query, err = json.Marshal(def.Query); err != nil {
			return nil, err
		}
	case req.Template != "":
		q, ok := s.opt.Queries.Template(req.Template)
		if !ok {
			return nil, &FieldError{Field: "template", Reason: fmt.Sprintf("unknown template %q", truncate(req.Template, 64))}
		}
		r.Query = q
	case len(req.DCQLQuery) > 0:
		if err := s.opt.Queries.CheckQuery(req.DCQLQuery); err != nil {
			return nil, &FieldError{Field: "dcql_query", Reason: err.Error()}
		}
		r.Query = req.DCQLQuery
	default:
		return nil, &FieldError{Field: "dcql_query", Reason: "dcql_query, template or presentation_definition is required"}
	}
	if _, err := dcql.Parse(r.Query); err != nil {
		return nil, &FieldError{Field: "dcql_query", Reason: err.Error()}
	}
	compact, err := compactJSON(r.Query)
	if err != nil {
		return nil, &FieldError{Field: "dcql_query", Reason: "malformed JSON"}
	}
	r.Query = compact
	switch req.ResponseMode {
	case "", ModeDirectPost:
		r.Mode = ModeDirectPost
	case ModeDirectPostJWT:
		r.Mode = ModeDirectPostJWT
	default:
		return nil, &FieldError{Field: "response_mode", Reason: "direct_post or direct_post.jwt"}
	}
	r.Prefix = req.ClientIDPrefix
	if r.Prefix == "" {
		r.Prefix = s.opt.DefaultPrefix
	}
	if !s.opt.enabled(r.Prefix) {
		return nil, &FieldError{Field: "client_id_prefix", Reason: fmt.Sprintf("%q is not configured on this verifier", truncate(string(r.Prefix), 64))}
	}
	switch req.RequestURIMethod {
	case "", "get":
	case "post":
		r.URIMethod = "post"
	default:
		return nil, &FieldError{Field: "request_uri_method", Reason: "get or post"}
	}
	if r.Prefix == PrefixRedirectURI && r.URIMethod != "" {
		return nil, &FieldError{Field: "request_uri_method", Reason: "redirect_uri requests are passed by value"}
	}
	if req.SameDevice && s.opt.RedirectURI == "" {
		return nil, &FieldError{Field: "same_device", Reason: "this verifier has no redirect URI configured"}
	}
	if req.WebhookURL != "" {
		if err := s.checkWebhookURL(req.WebhookURL); err != nil {
			return nil, &FieldError{Field: "webhook_url", Reason: err.Error()}
		}
		r.WebhookURL = req.WebhookURL
	}
	r.ID, r.RequestID, r.Nonce, r.State = randomToken(16), randomToken(16), randomToken(32), randomToken(32)
	if r.Mode == ModeDirectPostJWT {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		if r.EncKey, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			return nil, err
		}
		r.EncKID = randomToken(12)
	}
	switch r.Prefix {
	case PrefixDecentralizedIdentifier:
		r.ClientID = string(r.Prefix) + ":" + s.opt.DID
	case PrefixX509SANDNS:
		r.ClientID = string(r.Prefix) + ":" + s.opt.X509.DNSName()
	case PrefixRedirectURI:
		r.ClientID = string(r.Prefix) + ":" + s.responseURI(r)
	}
	r.Created = s.opt.Now()
	r.Expires = r.Created.Add(s.opt.SessionTTL)
	keep := s.opt.SessionTTL + s.opt.ResultTTL
	if err := s.putRecord(ctx, r, nil, keep); err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, requestPrefix+r.RequestID, []byte(r.ID), keep); err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, noncePrefix+hashKey(r.Nonce), []byte(r.ID), s.opt.SessionTTL); err != nil {
		return nil, err
	}
	link, err := s.authorizationRequest(r)
	if err != nil {
		return nil, err
	}
	base := s.opt.BaseURL + PathSessions + "/" + r.ID
	out := &Session{ID: r.ID, AuthorizationRequest: link, StatusURI: base, EventsURI: base + "/events",
		QRCodePNG: base + "/qr.png", QRCodeSVG: base + "/qr.svg", ClientID: r.ClientID,
		ResponseMode: r.Mode, ExpiresAt: r.Expires, DCQLQuery: r.Query, PresentationDefinition: r.Definition}
	if r.Prefix != PrefixRedirectURI {
		out.RequestURI = s.requestURI(r)
	}
	s.opt.Logger.InfoContext(ctx, "presentation session created", "session", r.ID, "client_id_prefix", string(r.Prefix), "response_mode", r.Mode)
	return out, nil
}

func (s *Service) requestURI(r *record) string {
	return s.opt.BaseURL + PathRequests + "/" + r.RequestID
}
func (s *Service) responseURI(r *record) string {
	return s.opt.BaseURL + PathResponses + "/" + r.RequestID
}

// authorizationRequest is the link a wallet scans: by reference (client_id
// and request_uri) for signed requests, by value for redirect_uri.
func (s *Service) authorizationRequest(r *record) (string, error) {
	v := url.Values{}
	v.Set("client_id", r.ClientID)
	if r.Prefix == PrefixRedirectURI {
		params, err := s.requestParams(r)
		if err != nil {
			return "", err
		}
		for k, p := range params {
			switch p := p.(type) {
			case string:
				v.Set(k, p)
			default:
				b, err := json.Marshal(p)
				if err != nil {
					return "", err
				}
				v.Set(k, string(b))
			}
		}
	} else {
		v.Set("request_uri", s.requestURI(r))
		if r.URIMethod == "post" {
			v.Set("request_uri_method", "post")
		}
	}
	return "openid4vp://?" + v.Encode(), nil
}

// requestParams are the Authorization Request parameters of a session.
func (s *Service) requestParams(r *record) (map[string]any, error) {
	meta := map[string]any{"client_name": s.opt.ClientName, "vp_formats_supported": s.opt.VPFormats}
	if r.Mode == ModeDirectPostJWT {
		pub, err := r.encPublicJWK()
		if err != nil {
			return nil, err
		}
		meta["jwks"] = map[string]any{"keys": []any{pub}}
		meta["encrypted_response_enc_values_supported"] = responseEncValues
	}
	p := map[string]any{
		"client_id":       r.ClientID,
		"response_type":   "vp_token",
		"response_mode":   r.Mode,
		"response_uri":    s.responseURI(r),
		"nonce":           r.Nonce,
		"state":           r.State,
		"dcql_query":      r.Query,
		"client_metadata": meta,
		// purpose is a medid extension; wallets ignore what they do not know.
		"purpose": r.Purpose,
	}
	if len(r.Definition) > 0 {
		// The pre-1.0 drafts' request: presentation_definition, and
		// vp_formats under the formats' older names.
		delete(p, "dcql_query")
		p["presentation_definition"] = r.Definition
		meta["vp_formats"] = peVPFormats(s.opt.VPFormats)
	}
	if len(s.opt.VerifierInfo) > 0 && r.Prefix != PrefixRedirectURI {
		p["verifier_info"] = s.opt.VerifierInfo
	}
	return p, nil
}

// encPublicJWK is the session's ephemeral ECDH-ES P-256 public key.
func (r *record) encPublicJWK() (jwk.Key, error) {
	k, err := r.encKey()
	if err != nil {
		return nil, err
	}
	j, err := jwk.Import(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"kid": r.EncKID, "use": "enc", "alg": "ECDH-ES"} {
		if err := j.Set(name, v); err != nil {
			return nil, err
		}
	}
	return j, nil
}

func (r *record) encKey() (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(r.EncKey)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("openid4vp: stored encryption key is not P-256")
	}
	if _, err := ek.ECDH(); err != nil { // a valid ECDH key
		return nil, err
	}
	return ek, nil
}

// WalletRequest is what a wallet may send when it POSTs to the request URI
// (section 5.10): wallet_nonce is echoed in the request object.
type WalletRequest struct {
	WalletNonce    string
	WalletMetadata string
}

// RequestObject returns the signed request object of the request with id
// rid (section 5.10 / RFC 9101). wr is nil for a GET.
func (s *Service) RequestObject(ctx context.Context, rid string, wr *WalletRequest) (string, error) {
	r, _, err := s.recordByRequest(ctx, rid)
	if err != nil {
		return "", err
	}
	if r.Prefix == PrefixRedirectURI {
		return "", invalidRequest("this request is passed by value; there is no request object")
	}
	if r.Status != StatusPending {
		return "", invalidRequest("this request has already been answered")
	}
	now := s.opt.Now()
	if !now.Before(r.Expires) {
		return "", invalidRequest("this request has expired")
	}
	p, err := s.requestParams(r)
	if err != nil {
		return "", err
	}
	p["aud"] = AudienceSelfIssued
	p["iat"] = now.Unix()
	p["exp"] = r.Expires.Unix()
	if wr != nil {
		if wr.WalletNonce != "" {
			if len(wr.WalletNonce) > maxParamLen || !urlSafe(wr.WalletNonce) {
				return "", invalidRequest("wallet_nonce must be at most %d URL-safe characters", maxParamLen)
			}
			p["wallet_nonce"] = wr.WalletNonce
		}
		if wr.WalletMetadata != "" {
			if len(wr.WalletMetadata) > 16<<10 {
				return "", invalidRequest("wallet_metadata exceeds 16 KB")
			}
			if _, err := jsonx.UniqueObject([]byte(wr.WalletMetadata)); err != nil {
				return "", invalidRequest("wallet_metadata must be a JSON object")
			}
		}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	switch r.Prefix {
	case PrefixDecentralizedIdentifier:
		kid, err := s.opt.requestKID()
		if err != nil {
			return "", err
		}
		return signJWS(ctx, s.opt.Signer, kid, payload)
	case PrefixX509SANDNS:
		if err := s.opt.X509.validAt(now); err != nil {
			return "", err
		}
		return signJWS(ctx, s.opt.X509, "", payload)
	}
	return "", fmt.Errorf("openid4vp: prefix %q cannot sign", r.Prefix)
}

// WalletReply is the 200 body the wallet gets from the response URI.
type WalletReply struct {
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// HandleResponse processes an Authorization Response (or error response)
// posted to the response URI of request rid. body is the form body. Errors
// for the wallet are *Error. In a session created with a
// presentation_definition the response carries a presentation_submission
// (see ParsePEResponse) and the verified presentations are keyed by input
// descriptor id.
func (s *Service) HandleResponse(ctx context.Context, rid string, body []byte) (*WalletReply, error) {
	r, _, err := s.recordByRequest(ctx, rid)
	if err != nil {
		return nil, err
	}
	var key *responseKey
	if r.Mode == ModeDirectPostJWT {
		k, err := r.encKey()
		if err != nil {
			return nil, err
		}
		key = &responseKey{KID: r.EncKID, Key: k}
	}
	resp, err := parseResponse(body, r.Mode, key, len(r.Definition) > 0)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusPending {
		return nil, invalidRequest("this request has already been answered")
	}
	if !s.opt.Now().Before(r.Expires) {
		return nil, invalidRequest("this request has expired")
	}
	if resp.State == "" || subtle.ConstantTimeCompare([]byte(resp.State), []byte(r.State)) != 1 {
		return nil, invalidRequest("state does not match this request")
	}
	var q *dcql.Query
	var pe *PEResponse
	switch {
	case resp.Error != "":
	case len(r.Definition) > 0:
		def, err := presexch.Parse(r.Definition)
		if err != nil {
			return nil, fmt.Errorf("openid4vp: stored presentation definition: %w", err)
		}
		if pe, err = ParsePEResponse(def, resp.PEVPToken, resp.Submission); err != nil {
			return nil, err
		}
	default:
		if q, err = dcql.Parse(r.Query); err != nil {
			return nil, err
		}
		if err := q.CheckResponse(resp.VPToken); err != nil {
			return nil, invalidRequest("%v", err)
		}
	}
	// The response is well-formed and for this request: consume the nonce.
	// Of two concurrent responses only one gets it.
	id, err := s.store.Take(ctx, noncePrefix+hashKey(r.Nonce))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, invalidRequest("this request has already been answered or has expired")
	}
	if err != nil {
		return nil, err
	}
	if string(id) != r.ID {
		return nil, errors.New("openid4vp: nonce index names another session")
	}
	var outcome *record
	if resp.Error != "" {
		outcome, err = s.finish(ctx, r.ID, func(rec *record) {
			rec.Status = StatusFailed
			rec.Err = &StatusError{Code: resp.Error, Description: resp.ErrorDescription}
		})
		if err != nil {
			return nil, err
		}
		return s.reply(ctx, outcome)
	}
	var presented map[string][]*VerifiedPresentation
	var fail *StatusError
	if pe != nil {
		presented, fail = s.verifyPE(ctx, r, pe)
	} else {
		presented, fail = s.verifyDCQL(ctx, r, q, resp.VPToken)
	}
	outcome, err = s.finish(ctx, r.ID, func(rec *record) {
		if fail != nil {
			rec.Status, rec.Err = StatusFailed, fail
			return
		}
		rec.Status, rec.Credentials = StatusVerified, presented
	})
	if err != nil {
		return nil, err
	}
	if fail != nil {
		return nil, &Error{Code: CodeInvalidRequest, Status: http.StatusBadRequest,
			Description: "the presentation was refused: " + fail.Code}
	}
	return s.reply(ctx, outcome)
}

// verifyDCQL verifies each presentation of a DCQL vp_token for its
// Credential Query, discarding those that fail (section 8.6), and checks
// the rest satisfy the query. It returns the verified presentations keyed
// by Credential Query id, or why the session fails.
func (s *Service) verifyDCQL(ctx context.Context, r *record, q *dcql.Query, tok dcql.VPToken) (map[string][]*VerifiedPresentation, *StatusError) {
	presented := map[string][]*VerifiedPresentation{}
	var firstFailure error
	for cid, ps := range tok {
		format := string(q.Credential(cid).Format)
		for _, p := range ps {
			vp, err := s.opt.Verifier.VerifyPresentation(ctx, format, p, r.Nonce, r.ClientID)
			if err == nil && vp == nil {
				err = errors.New("the verifier returned no result")
			}
			if err != nil {
				// Section 8.6: a presentation that fails is discarded.
				if firstFailure == nil {
					firstFailure = fmt.Errorf("%s: %w", cid, err)
				}
				continue
			}
			if vp.Format == "" {
				vp.Format = format
			}
			presented[cid] = append(presented[cid], vp)
		}
	}
	if err := s.opt.Queries.Satisfied(r.Query, presented); err != nil {
		if firstFailure != nil {
			return nil, verificationFailed(firstFailure)
		}
		return nil, &StatusError{Code: StatusQueryNotSatisfied, Description: err.Error()}
	}
	return presented, nil
}

// verificationFailed is the session error for a presentation that did not
// verify, with its checks when the verifier gave them.
func verificationFailed(err error) *StatusError {
	e := &StatusError{Code: StatusVerificationFailed, Description: err.Error()}
	var fc FailedChecks
	if errors.As(err, &fc) {
		e.Checks = fc.FailedChecks()
	}
	return e
}

// reply builds the wallet's 200 answer: for a same-device session, the
// redirect URI with a fresh single-use response code.
func (s *Service) reply(ctx context.Context, r *record) (*WalletReply, error) {
	if !r.SameDevice {
		return &WalletReply{}, nil
	}
	code := randomToken(32)
	if err := s.store.Put(ctx, codePrefix+hashKey(code), []byte(r.ID), s.opt.ResponseCodeTTL); err != nil {
		return nil, err
	}
	return &WalletReply{RedirectURI: s.opt.RedirectURI + "#response_code=" + code}, nil
}

// finish moves a pending session to its final state with compare-and-swap,
// then notifies event streams and the webhook.
func (s *Service) finish(ctx context.Context, id string, set func(*record)) (*record, error) {
	for range 5 {
		r, raw, err := s.getRecord(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Status != StatusPending {
			return nil, invalidRequest("this request has already been answered")
		}
		set(r)
		r.Finished = s.opt.Now()
		err = s.putRecord(ctx, r, raw, s.opt.ResultTTL)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		st := s.status(r)
		errCode := ""
		if r.Err != nil {
			errCode = r.Err.Code
		}
		s.opt.Logger.InfoContext(ctx, "presentation session finished", "session", r.ID, "status", r.Status, "error", errCode)
		s.events.publish(r.ID)
		if r.WebhookURL != "" {
			s.sendWebhook(r.WebhookURL, st)
		}
		return r, nil
	}
	return nil, errors.New("openid4vp: session update kept conflicting")
}

// Status returns the state of session id.
func (s *Service) Status(ctx context.Context, id string) (*Status, error) {
	r, _, err := s.getRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.status(r), nil
}

// ResultByResponseCode returns the state of session id to the frontend of
// a same-device flow that holds the response code the wallet was sent back
// with. The code is single-use.
func (s *Service) ResultByResponseCode(ctx context.Context, id, code string) (*Status, error) {
	if code == "" || len(code) > 256 {
		return nil, ErrResponseCodeInvalid
	}
	got, err := s.store.Take(ctx, codePrefix+hashKey(code))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrResponseCodeInvalid
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(got, []byte(id)) != 1 {
		return nil, ErrResponseCodeInvalid
	}
	return s.Status(ctx, id)
}

// AuthorizationRequest returns the openid4vp:// link of session id, for the
// QR code.
func (s *Service) AuthorizationRequest(ctx context.Context, id string) (string, error) {
	r, _, err := s.getRecord(ctx, id)
	if err != nil {
		return "", err
	}
	if st := s.status(r); st.Status != StatusPending {
		return "", ErrSessionNotFound
	}
	return s.authorizationRequest(r)
}

func (s *Service) recordByRequest(ctx context.Context, rid string) (*record, []byte, error) {
	if !idToken(rid) {
		return nil, nil, &Error{Code: CodeInvalidRequest, Status: http.StatusNotFound, Description: "unknown or expired request"}
	}
	id, err := s.store.Get(ctx, requestPrefix+rid)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, &Error{Code: CodeInvalidRequest, Status: http.StatusNotFound, Description: "unknown or expired request"}
	}
	if err != nil {
		return nil, nil, err
	}
	r, raw, err := s.getRecord(ctx, string(id))
	if errors.Is(err, ErrSessionNotFound) {
		return nil, nil, &Error{Code: CodeInvalidRequest, Status: http.StatusNotFound, Description: "unknown or expired request"}
	}
	return r, raw, err
}

func (s *Service) getRecord(ctx context.Context, id string) (*record, []byte, error) {
	if !idToken(id) {
		return nil, nil, ErrSessionNotFound
	}
	key := sessionPrefix + id
	raw, err := s.store.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	plain, err := s.sealer.Open(raw, []byte(key))
	if err != nil {
		return nil, nil, fmt.Errorf("openid4vp: open session: %w", err)
	}
	var r record
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, nil, fmt.Errorf("openid4vp: decode session: %w", err)
	}
	return &r, raw, nil
}

// putRecord seals r and stores it; with old set, only if the stored value
// is still old.
func (s *Service) putRecord(ctx context.Context, r *record, old []byte, ttl time.Duration) error {
	key := sessionPrefix + r.ID
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := s.sealer.Seal(plain, []byte(key))
	if err != nil {
		return err
	}
	return s.store.CompareAndSwap(ctx, key, old, sealed, ttl)
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

// idToken reports whether s looks like one of our random ids.
func idToken(s string) bool {
	return len(s) > 0 && len(s) <= 64 && urlSafe(s)
}

// urlSafe: letters, digits, "-", ".", "_", "~" (section 5.2 for nonce and
// state).
func urlSafe(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

func checkText(s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("required")
	}
	if len(s) > max {
		return fmt.Errorf("at most %d bytes", max)
	}
	if slices.ContainsFunc([]rune(s), func(r rune) bool { return unicode.IsControl(r) }) {
		return errors.New("control characters are not allowed")
	}
	return nil
}

func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
