package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
)

// ErrPresentationNotFound is what a Presentations returns for a session
// that is gone (expired and removed).
var ErrPresentationNotFound = errors.New("oidc: no such presentation session")

// Transaction is a started sign-in: the authorize page shows its QR code
// and link, and polls StatusURL until the wallet has answered.
type Transaction struct {
	ID string
	// Binding is the value of the cookie that ties the sign-in to the
	// browser that started it (see CookieName).
	Binding     string
	ClientName  string
	Link        string
	QRCodePNG   string
	StatusURL   string
	CompleteURL string
	ExpiresAt   time.Time
}

// CookieName is the cookie that binds a sign-in to its browser. Its path
// is the sign-in's own, so concurrent sign-ins do not collide.
const CookieName = "medid_oidc_txn"

// txnRecord is a sign-in as stored (sealed).
type txnRecord struct {
	ID          string    `json:"id"`
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	Scopes      []string  `json:"scopes"`
	State       string    `json:"state"`
	Nonce       string    `json:"nonce"`
	Challenge   string    `json:"code_challenge"`
	Session     string    `json:"session"`
	Binding     []byte    `json:"binding_sha256"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// grant is what an authorization code and then an access token stand for.
type grant struct {
	ClientID    string         `json:"client_id"`
	RedirectURI string         `json:"redirect_uri,omitempty"`
	Nonce       string         `json:"nonce,omitempty"`
	Challenge   string         `json:"code_challenge,omitempty"`
	Scopes      []string       `json:"scopes"`
	Subject     string         `json:"sub"`
	Claims      map[string]any `json:"claims,omitempty"`
	AuthTime    time.Time      `json:"auth_time"`
	Expires     time.Time      `json:"expires"`
}

// Authorize validates an authentication request (the parameters of GET or
// POST /oidc/authorize) and starts a sign-in: an OpenID4VP session for the
// patient's identity credential. An error the client may see is a
// *RedirectError; any other *Error must be shown on an error page, since
// the client or its redirect URI could not be trusted.
func (p *Provider) Authorize(ctx context.Context, v url.Values) (*Transaction, error) {
	req, perr := ParseAuthorizeRequest(v)
	if req.ClientID == "" {
		return nil, invalidRequest("client_id is missing or malformed")
	}
	client, err := p.clientRecord(ctx, req.ClientID)
	if errors.Is(err, ErrClientNotFound) {
		return nil, invalidRequest("unknown client")
	}
	if err != nil {
		return nil, err
	}
	if req.RedirectURI == "" {
		return nil, invalidRequest("redirect_uri is missing or malformed")
	}
	if !slices.Contains(client.RedirectURIs, req.RedirectURI) {
		return nil, invalidRequest("redirect_uri is not registered for this client")
	}
	if perr != nil {
		return nil, &RedirectError{Err: AsError(perr), RedirectURI: req.RedirectURI, State: req.State}
	}
	redirectErr := func(e *Error) error {
		return &RedirectError{Err: e, RedirectURI: req.RedirectURI, State: req.State}
	}
	pres, err := p.opt.Presentations.Create(ctx, p.opt.Template, "Sign in to "+client.Name)
	if err != nil {
		e := oauthErr(CodeServerError, http.StatusInternalServerError, "the sign-in could not be started")
		e.Cause = err
		return nil, redirectErr(e)
	}
	now := p.opt.Now()
	binding := randomToken(32)
	bh := sha256.Sum256([]byte(binding))
	rec := &txnRecord{ID: randomToken(16), ClientID: client.ID, RedirectURI: req.RedirectURI, Scopes: grantedScopes(req.Scopes),
		State: req.State, Nonce: req.Nonce, Challenge: req.CodeChallenge, Session: pres.ID, Binding: bh[:],
		Created: now, Expires: now.Add(p.opt.TransactionTTL)}
	if err := p.putSealed(ctx, txnPrefix+rec.ID, rec, p.opt.TransactionTTL); err != nil {
		return nil, err
	}
	p.opt.Logger.InfoContext(ctx, "oidc sign-in started", "client_id", client.ID, "txn", rec.ID)
	base := p.opt.BaseURL + PathAuthorize + "/" + rec.ID
	return &Transaction{ID: rec.ID, Binding: binding, ClientName: client.Name, Link: pres.Link, QRCodePNG: pres.QRCodePNG,
		StatusURL: base + "/status", CompleteURL: base + "/complete", ExpiresAt: rec.Expires}, nil
}

// grantedScopes keeps the scopes the provider knows (openid, profile);
// others are ignored, as RFC 6749 section 3.3 allows.
func grantedScopes(req []string) []string {
	out := []string{ScopeOpenID}
	for _, s := range req {
		if _, ok := scopeClaims[s]; ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// loadTxn reads sign-in id and checks the browser's binding cookie.
func (p *Provider) loadTxn(ctx context.Context, id, binding string) (*txnRecord, error) {
	if id == "" || len(id) > 64 || !unreserved(id) {
		return nil, ErrTransactionNotFound
	}
	key := txnPrefix + id
	raw, err := p.store.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrTransactionNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec txnRecord
	if err := p.openSealed(key, raw, &rec); err != nil {
		return nil, err
	}
	bh := sha256.Sum256([]byte(binding))
	if binding == "" || subtle.ConstantTimeCompare(bh[:], rec.Binding) != 1 {
		return nil, ErrWrongBrowser
	}
	return &rec, nil
}

// TransactionStatus returns the state of sign-in id for the browser
// holding binding: pending, verified, failed or expired.
func (p *Provider) TransactionStatus(ctx context.Context, id, binding string) (string, error) {
	rec, err := p.loadTxn(ctx, id, binding)
	if err != nil {
		return "", err
	}
	if !p.opt.Now().Before(rec.Expires) {
		return StatusExpired, nil
	}
	res, err := p.opt.Presentations.Result(ctx, rec.Session)
	if errors.Is(err, ErrPresentationNotFound) {
		return StatusExpired, nil
	}
	if err != nil {
		return "", err
	}
	return res.Status, nil
}

// Complete finishes sign-in id for the browser holding binding, once the
// wallet has answered, and returns where to send the browser: the
// client's redirect URI with a single-use authorization code, or with
// error=access_denied when the presentation failed or expired. While the
// wallet has not answered it returns ErrPending.
func (p *Provider) Complete(ctx context.Context, id, binding string) (string, error) {
	rec, err := p.loadTxn(ctx, id, binding)
	if err != nil {
		return "", err
	}
	now := p.opt.Now()
	var res *PresentationResult
	if now.Before(rec.Expires) {
		res, err = p.opt.Presentations.Result(ctx, rec.Session)
		if errors.Is(err, ErrPresentationNotFound) {
			res, err = &PresentationResult{Status: StatusExpired}, nil
		}
		if err == nil && res.Status == StatusPending {
			return "", ErrPending
		}
	} else {
		res = &PresentationResult{Status: StatusExpired}
	}
	// The sign-in ends here, whatever the outcome: of two concurrent
	// completions only one proceeds.
	if _, terr := p.store.Take(ctx, txnPrefix+rec.ID); errors.Is(terr, kv.ErrNotFound) {
		return "", ErrTransactionNotFound
	} else if terr != nil {
		return "", terr
	}
	fail := func(code, desc string) (string, error) {
		return authzResponse(rec.RedirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {rec.State}, "iss": {p.issuer}}), nil
	}
	failed := func(reason string) {
		p.login(ctx, LoginEvent{ClientID: rec.ClientID, Scopes: rec.Scopes, Reason: reason})
	}
	if err != nil {
		p.opt.Logger.ErrorContext(ctx, "oidc sign-in: reading the presentation failed", "txn", rec.ID, "error", err)
		failed(LoginReasonServerError)
		return fail(CodeServerError, "the presentation could not be read")
	}
	switch res.Status {
	case StatusVerified:
	case StatusExpired:
		p.opt.Logger.InfoContext(ctx, "oidc sign-in expired", "client_id", rec.ClientID, "txn", rec.ID)
		failed(LoginReasonExpired)
		return fail(CodeAccessDenied, "the sign-in expired before the wallet answered")
	default:
		p.opt.Logger.InfoContext(ctx, "oidc sign-in refused", "client_id", rec.ClientID, "txn", rec.ID, "status", res.Status)
		reason := res.Error
		if reason == "" || !unreserved(reason) || len(reason) > 64 {
			reason = LoginReasonPresentationFailed
		}
		failed(reason)
		return fail(CodeAccessDenied, "the wallet did not present a valid identity credential")
	}
	client, err := p.clientRecord(ctx, rec.ClientID)
	if err != nil {
		failed(LoginReasonServerError)
		return "", err // the client was deleted meanwhile: nowhere safe to redirect
	}
	if res.Subject == "" {
		p.opt.Logger.ErrorContext(ctx, "oidc sign-in: the presentation names no patient", "txn", rec.ID)
		failed(LoginReasonServerError)
		return fail(CodeServerError, "the presentation could not be read")
	}
	authTime := res.VerifiedAt
	if authTime.IsZero() {
		authTime = now
	}
	g := &grant{ClientID: client.ID, RedirectURI: rec.RedirectURI, Nonce: rec.Nonce, Challenge: rec.Challenge, Scopes: rec.Scopes,
		Subject: PairwiseSubject(p.opt.PairwiseSecret, sectorOf(client.RedirectURIs[0]), res.Subject),
		Claims:  releasable(res.Claims, client.AllowedClaims, rec.Scopes), AuthTime: authTime.UTC(),
		Expires: now.Add(p.opt.CodeTTL)}
	code := randomToken(32)
	if err := p.putSealed(ctx, codePrefix+hashKey(code), g, p.opt.CodeTTL); err != nil {
		failed(LoginReasonServerError)
		return "", err
	}
	p.opt.Logger.InfoContext(ctx, "oidc sign-in verified; code issued", "client_id", client.ID, "txn", rec.ID)
	patient, _ := did.Parse(res.Subject) // a DID: HolderDID made it
	p.login(ctx, LoginEvent{ClientID: client.ID, Patient: patient, Scopes: g.Scopes,
		ClaimNames: slices.Sorted(maps.Keys(g.Claims)), Verified: true})
	return authzResponse(rec.RedirectURI, url.Values{"code": {code}, "state": {rec.State}, "iss": {p.issuer}}), nil
}

// LoginEvent is what Options.OnLogin learns of a sign-in that ended. It
// holds names and identifiers, never claim values.
type LoginEvent struct {
	// ClientID is the client the patient signed in to.
	ClientID string
	// Patient is the patient's DID, the one the pairwise subject is
	// derived from; zero when the sign-in failed.
	Patient did.DID
	// Scopes are the scopes granted.
	Scopes []string
	// ClaimNames are the names of the claims released in the ID token
	// (and at userinfo), sorted; nil when the sign-in failed or released
	// none. The sub is not among them.
	ClaimNames []string
	// Verified is true when an authorization code was issued.
	Verified bool
	// Reason is why a sign-in failed: the presentation session's error
	// code (the wallet's own, such as access_denied when the patient
	// refused, or verification_failed, query_not_satisfied),
	// LoginReasonPresentationFailed when it gave none, LoginReasonExpired
	// or LoginReasonServerError. "" when Verified.
	Reason string
}

// Reason codes of a failed sign-in, besides the presentation session's
// own error codes.
const (
	LoginReasonExpired            = "expired"
	LoginReasonPresentationFailed = "presentation_failed"
	LoginReasonServerError        = "server_error"
)

// login hands e to Options.OnLogin, if set.
func (p *Provider) login(ctx context.Context, e LoginEvent) {
	if p.opt.OnLogin != nil {
		e.Scopes = slices.Clone(e.Scopes)
		p.opt.OnLogin(ctx, e)
	}
}

// releasable keeps the claims that the patient disclosed, the client
// registered for and the granted scopes request; only string values.
func releasable(disclosed map[string]any, allowed, scopes []string) map[string]any {
	out := map[string]any{}
	for _, name := range allowed {
		requested := slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(scopeClaims[s], name) })
		if !requested {
			continue
		}
		if v, ok := disclosed[name].(string); ok && v != "" {
			out[name] = v
		}
	}
	return out
}

// authzResponse adds params to a (registered, checked) redirect URI,
// keeping its own query.
func authzResponse(redirectURI string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI // registered URIs parse; not reached
	}
	q := u.Query()
	for k, vs := range params {
		if len(vs) == 1 && vs[0] == "" {
			continue
		}
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}
